CREATE TABLE rpt.sales_by_category AS
SELECT category, SUM(qty * price) AS revenue
FROM dw.fact_sales f JOIN dw.dim_product p ON f.product_id = p.product_id
GROUP BY category;
