CREATE TABLE mart.cust AS
SELECT c.id,
       (SELECT max(o.created_at) FROM sales.orders o WHERE o.customer_id = c.id) AS last_order_at
FROM crm.customers c
WHERE EXISTS (SELECT 1 FROM sales.payments p WHERE p.customer_id = c.id AND p.amount > 0);
