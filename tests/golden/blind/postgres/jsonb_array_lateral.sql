CREATE TABLE mart.order_lines AS
SELECT o.id AS order_id,
       li ->> 'sku' AS sku,
       (li ->> 'qty')::int AS qty
FROM raw.orders o
CROSS JOIN LATERAL jsonb_array_elements(o.payload -> 'lines') AS li
WHERE o.status = 'paid';
