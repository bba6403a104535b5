INSERT INTO mart.order_stats (region, channel, paid_orders, refunded_amount)
SELECT region,
       channel,
       count(*) FILTER (WHERE status = 'paid'),
       sum(amount) FILTER (WHERE status = 'refunded')
FROM sales.orders
GROUP BY GROUPING SETS ((region, channel), (region), ());
