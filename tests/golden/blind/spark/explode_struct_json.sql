CREATE TABLE mart.order_items USING delta AS
SELECT o.order_id,
       item.sku AS sku,
       item.qty AS qty,
       get_json_object(o.meta, '$.channel') AS channel
FROM raw.orders o
LATERAL VIEW explode(o.items) x AS item
WHERE o.status = 'complete';
