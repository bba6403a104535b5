CREATE OR REPLACE TABLE `proj.mart.order_items` AS
SELECT
  o.order_id,
  JSON_VALUE(o.attributes, '$.channel') AS channel,
  item.sku,
  item.quantity * item.unit_price AS line_total
FROM `proj.raw.orders` AS o, UNNEST(o.line_items) AS item
WHERE item.quantity > 0;
