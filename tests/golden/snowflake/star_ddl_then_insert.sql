CREATE TABLE sales.orders (id INT, amount INT);
INSERT INTO dw.t SELECT * FROM sales.orders
