INSERT INTO `my-proj.mart.daily_sales` (sale_date, revenue)
SELECT DATE(o.created_at), SUM(o.amount)
FROM `my-proj`.sales.orders AS o
JOIN `other-proj.ref.fx_rates` fx ON fx.currency = o.currency AND fx.day = DATE(o.created_at)
GROUP BY 1;
