CREATE OR REPLACE TABLE mart.orders_eur AS
SELECT o.* REPLACE (ROUND(o.amount * fx.rate, 2) AS amount)
FROM sales.orders AS o
JOIN ref.fx_rates AS fx
  ON fx.currency = o.currency AND fx.day = DATE(o.created_at);
