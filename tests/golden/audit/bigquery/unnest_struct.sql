CREATE OR REPLACE TABLE mart.order_items AS
SELECT o.order_id, item.sku, item.quantity
FROM sales.orders o, UNNEST(o.items) AS item;
