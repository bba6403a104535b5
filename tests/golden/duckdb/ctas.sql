CREATE TABLE dw.t AS SELECT id, amount FROM sales.orders
