CREATE TABLE dw.t AS SELECT s.id, s.amt FROM (SELECT id, amount AS amt FROM sales.orders) s
