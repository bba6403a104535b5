INSERT OVERWRITE TABLE mart.orphan_orders
SELECT o.order_id, o.customer_id
FROM raw.orders o
LEFT ANTI JOIN raw.customers c ON c.id = o.customer_id;
