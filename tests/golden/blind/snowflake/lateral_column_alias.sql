CREATE TABLE mart.order_margin AS
SELECT id,
       revenue - cost AS margin,
       margin / NULLIF(revenue, 0) AS margin_pct
FROM raw.orders;
