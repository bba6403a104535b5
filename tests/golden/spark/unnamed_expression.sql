CREATE TABLE dw.t AS SELECT id, amount + 1 FROM sales.orders
