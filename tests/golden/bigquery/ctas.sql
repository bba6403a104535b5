CREATE TABLE dw.t AS SELECT id, amount * 2 AS double_amount FROM sales.orders
