INSERT INTO mart.customer_orders (customer_id, order_count)
WITH orders AS (
  SELECT o.customer_id, o.id FROM sales.orders o WHERE o.status <> 'cancelled'
)
SELECT c.customer_id, c.n
FROM (
  WITH orders AS (SELECT customer_id, count(id) AS n FROM orders GROUP BY customer_id)
  SELECT customer_id, n FROM orders
) c;
