INSERT INTO dw.fact SELECT id, amount FROM sales.orders
