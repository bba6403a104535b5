INSERT INTO mart.kpi_cube (country, device, orders, revenue, big_orders)
SELECT country, device, COUNT(*), SUM(amount), COUNT_IF(amount > 1000)
FROM raw.orders
WHERE order_date >= '2024-01-01'
GROUP BY CUBE (country, device);
