CREATE TABLE dw.t AS SELECT * FROM sales.orders
