INSERT INTO dw.OrderLine (OrderId, Sku, Qty)
SELECT o.OrderId, j.Sku, j.Qty
FROM staging.OrderDoc o
CROSS APPLY OPENJSON(o.Payload, '$.lines')
    WITH (Sku nvarchar(50) '$.sku', Qty int '$.qty') AS j;
