CREATE TABLE mart.order_items AS
SELECT o.id AS order_id, i.value:sku::string AS sku, i.value:qty::int AS qty
FROM raw.orders o, LATERAL FLATTEN(input => o.payload:items) i;
