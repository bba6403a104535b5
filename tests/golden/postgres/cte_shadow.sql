CREATE TABLE dw.t AS WITH orders AS (SELECT id, amount FROM sales.orders WHERE amount > 0) SELECT id, amount FROM orders
