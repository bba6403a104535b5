CREATE TABLE mart.order_tags AS
SELECT o.id AS order_id, t.tag
FROM sales.orders o
CROSS JOIN LATERAL unnest(o.tags) AS t(tag);
