MERGE INTO lake.customers AS t
USING (
  SELECT customer_id, name, email, op
  FROM (
    SELECT customer_id, name, email, op,
           row_number() OVER (PARTITION BY customer_id ORDER BY ts DESC) AS rn
    FROM lake.customers_cdc
  ) x
  WHERE rn = 1
) AS s
ON t.customer_id = s.customer_id
WHEN MATCHED AND s.op = 'D' THEN DELETE
WHEN MATCHED THEN UPDATE SET t.name = s.name, t.email = s.email
WHEN NOT MATCHED AND s.op <> 'D' THEN
  INSERT (customer_id, name, email) VALUES (s.customer_id, s.name, s.email);
