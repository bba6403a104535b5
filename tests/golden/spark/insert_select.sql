INSERT INTO dw.fact (id, amount) SELECT o.id, o.amount FROM sales.orders o
