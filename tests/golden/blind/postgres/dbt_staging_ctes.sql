CREATE VIEW staging.stg_orders AS
WITH src AS (
    SELECT id, customer_id, status, amount_cents, created_at, _loaded_at
    FROM raw.orders
),
renamed AS (
    SELECT id AS order_id,
           customer_id,
           lower(status) AS order_status,
           amount_cents / 100.0 AS amount,
           created_at::date AS order_date
    FROM src
    WHERE status <> 'test'
)
SELECT order_id, customer_id, order_status, amount, order_date
FROM renamed;
