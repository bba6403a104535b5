INSERT INTO mart.new_customers (id, email)
SELECT c.id, c.email FROM raw.customers c
WHERE NOT EXISTS (SELECT 1 FROM mart.customers_seen s WHERE s.id = c.id);
