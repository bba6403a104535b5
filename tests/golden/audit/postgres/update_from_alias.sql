UPDATE dw.customers AS t
SET email = s.email, updated_at = now()
FROM staging.customer_updates AS s
WHERE t.id = s.customer_id AND s.op = 'U';
