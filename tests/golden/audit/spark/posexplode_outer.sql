INSERT INTO mart.items
SELECT o.order_id, pos, item.sku
FROM raw.orders o LATERAL VIEW OUTER POSEXPLODE(o.items) x AS pos, item;
