CREATE TABLE mart.top_products AS
SELECT category, product_id, revenue,
       RANK() OVER (PARTITION BY category ORDER BY revenue DESC) AS rnk
FROM (
  SELECT p.category, s.product_id, SUM(s.amount) AS revenue
  FROM sales.sales s JOIN ref.products p ON p.id = s.product_id
  GROUP BY 1, 2
)
QUALIFY rnk <= 3;
