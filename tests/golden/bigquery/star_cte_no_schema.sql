CREATE TABLE dw.t AS WITH c AS (SELECT * FROM sales.orders) SELECT id, amount FROM c
