CREATE TABLE reporting.sales_by_month AS
SELECT YEAR(o.created_at) AS yr,
       MONTH(o.created_at) AS mon,
       s.name AS store,
       SUM(o.total) AS revenue
FROM shop.orders o
LEFT JOIN shop.stores s ON s.id = o.store_id
GROUP BY YEAR(o.created_at), MONTH(o.created_at), s.name WITH ROLLUP;
