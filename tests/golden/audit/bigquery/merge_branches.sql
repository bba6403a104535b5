MERGE `proj.dw.inventory` T
USING `proj.staging.inventory_delta` S
ON T.sku = S.sku
WHEN MATCHED AND S.qty = 0 THEN DELETE
WHEN MATCHED THEN UPDATE SET qty = T.qty + S.qty
WHEN NOT MATCHED THEN INSERT (sku, qty) VALUES (S.sku, S.qty);
