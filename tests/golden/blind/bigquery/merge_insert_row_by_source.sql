MERGE mart.products T
USING raw.products_snapshot S
ON T.product_id = S.product_id
WHEN MATCHED AND S.updated_at > T.updated_at THEN
  UPDATE SET name = S.name, price = S.price, updated_at = S.updated_at
WHEN NOT MATCHED BY TARGET THEN
  INSERT ROW
WHEN NOT MATCHED BY SOURCE THEN
  DELETE;
