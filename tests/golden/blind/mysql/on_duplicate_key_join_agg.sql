INSERT INTO reporting.product_stats (product_id, orders, revenue, last_order_at)
SELECT oi.product_id, COUNT(DISTINCT oi.order_id), SUM(oi.qty * oi.price), MAX(o.created_at)
FROM shop.order_items oi
JOIN shop.orders o ON o.id = oi.order_id
WHERE o.status IN ('paid', 'shipped')
GROUP BY oi.product_id
ON DUPLICATE KEY UPDATE
  orders = VALUES(orders),
  revenue = VALUES(revenue),
  last_order_at = VALUES(last_order_at);
