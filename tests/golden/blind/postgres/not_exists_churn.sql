INSERT INTO mart.churned_customers (customer_id, email, last_order_at)
SELECT c.id, c.email, max(o.created_at)
FROM crm.customers c
JOIN sales.orders o ON o.customer_id = c.id
WHERE NOT EXISTS (
    SELECT 1 FROM sales.orders o2
    WHERE o2.customer_id = c.id
      AND o2.created_at > now() - interval '90 days'
)
GROUP BY c.id, c.email;
