CREATE TABLE sales.orders (id INT, amount INT);
CREATE TABLE dw.t AS WITH c AS (SELECT * FROM sales.orders) SELECT * FROM c
