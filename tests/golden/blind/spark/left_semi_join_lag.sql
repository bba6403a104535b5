INSERT INTO mart.repeat_buyers
SELECT o.customer_id,
       o.order_id,
       lag(o.order_ts) OVER (PARTITION BY o.customer_id ORDER BY o.order_ts) AS prev_order_ts
FROM raw.orders o
LEFT SEMI JOIN raw.vip_customers v ON v.customer_id = o.customer_id;
