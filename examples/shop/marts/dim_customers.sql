-- Customer dimension with lifetime value.
INSERT INTO marts.dim_customers (customer_id, email, full_name, first_order_at, lifetime_value)
SELECT
    c.customer_id,
    c.email,
    c.full_name,
    min(f.ordered_at) AS first_order_at,
    coalesce(sum(f.amount), 0) AS lifetime_value
FROM staging.stg_customers AS c
LEFT JOIN marts.fct_orders AS f ON f.customer_id = c.customer_id
GROUP BY c.customer_id, c.email, c.full_name;
