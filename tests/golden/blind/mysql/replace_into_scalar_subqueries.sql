REPLACE INTO reporting.customer_summary (customer_id, orders, last_status)
SELECT c.id,
       (SELECT COUNT(*) FROM shop.orders o WHERE o.customer_id = c.id),
       (SELECT o2.status FROM shop.orders o2
         WHERE o2.customer_id = c.id
         ORDER BY o2.created_at DESC LIMIT 1)
FROM shop.customers c;
