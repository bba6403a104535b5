INSERT INTO report.unsold (product_id, name)
SELECT p.id, p.name FROM shop.products p
WHERE p.id NOT IN (SELECT oi.product_id FROM shop.order_items oi WHERE oi.created_at > NOW() - INTERVAL 30 DAY);
