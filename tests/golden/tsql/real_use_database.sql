USE Sales;
INSERT INTO dbo.orders_copy (id) SELECT id FROM dbo.orders;
