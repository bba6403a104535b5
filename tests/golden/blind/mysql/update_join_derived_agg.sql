UPDATE shop.customers c
JOIN (
  SELECT customer_id, SUM(total) AS lifetime_value, COUNT(*) AS order_count
  FROM shop.orders
  WHERE status <> 'cancelled'
  GROUP BY customer_id
) t ON t.customer_id = c.id
SET c.lifetime_value = t.lifetime_value,
    c.order_count = t.order_count;
