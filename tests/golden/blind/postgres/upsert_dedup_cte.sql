INSERT INTO mart.customer_latest (customer_id, email, updated_at)
WITH ranked AS (
    SELECT customer_id, email, updated_at,
           row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) AS rn
    FROM raw.customer_events
)
SELECT customer_id, email, updated_at
FROM ranked
WHERE rn = 1
ON CONFLICT (customer_id) DO UPDATE
SET email = EXCLUDED.email, updated_at = EXCLUDED.updated_at;
