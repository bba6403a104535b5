INSERT INTO shop.order_tags (order_id, tag)
SELECT o.id, jt.tag
FROM shop.orders o,
     JSON_TABLE(o.tags, '$[*]' COLUMNS (tag VARCHAR(50) PATH '$')) AS jt
WHERE o.created_at >= '2024-01-01';
