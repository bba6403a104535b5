CREATE OR REPLACE TABLE mart.cart_items AS
SELECT
  c.cart_id,
  JSON_VALUE(item, '$.sku') AS sku,
  CAST(JSON_VALUE(item, '$.qty') AS INT64) AS qty
FROM raw.carts AS c,
  UNNEST(JSON_QUERY_ARRAY(c.payload, '$.items')) AS item;
