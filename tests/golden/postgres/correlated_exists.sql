INSERT INTO dw.t (id) SELECT o.id FROM sales.orders o WHERE EXISTS (SELECT 1 FROM sales.returns r WHERE r.order_id = o.id)
