UPDATE dw.dim_customer d
SET valid_to = s.updated_at,
    is_current = false
FROM staging.customers s
WHERE d.customer_id = s.customer_id
  AND d.is_current
  AND d.address IS DISTINCT FROM s.address;

INSERT INTO dw.dim_customer (customer_id, address, valid_from, valid_to, is_current)
SELECT s.customer_id, s.address, s.updated_at, NULL, true
FROM staging.customers s
LEFT JOIN dw.dim_customer d
       ON d.customer_id = s.customer_id AND d.is_current
WHERE d.customer_id IS NULL;
