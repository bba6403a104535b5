CREATE TABLE dw.t AS SELECT id, CASE WHEN status = 'x' THEN amount ELSE 0 END AS amt FROM sales.orders
