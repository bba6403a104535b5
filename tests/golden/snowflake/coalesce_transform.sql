CREATE TABLE dw.t AS SELECT COALESCE(o.a, o.b) AS v, CAST(o.c AS INT) AS c FROM sales.orders o
