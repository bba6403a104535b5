CREATE TABLE dw.t AS SELECT x.id FROM (SELECT id FROM sales.orders WHERE status = 'ok') x
