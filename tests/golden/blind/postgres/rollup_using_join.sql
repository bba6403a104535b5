CREATE TABLE mart.sales_rollup AS
SELECT r.region_name,
       p.category,
       sum(s.amount) AS revenue,
       count(DISTINCT s.customer_id) AS buyers
FROM sales.sales s
JOIN ref.regions r USING (region_id)
JOIN ref.products p ON p.product_id = s.product_id
GROUP BY ROLLUP (r.region_name, p.category);
