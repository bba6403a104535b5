INSERT INTO dw.t (id) SELECT id FROM sales.orders ORDER BY dt
