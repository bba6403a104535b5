CREATE OR REPLACE TABLE mart.top_customers AS
SELECT customer_id,
       SUM(amount) AS total_spend,
       RANK() OVER (ORDER BY total_spend DESC) AS spend_rank
FROM raw.orders
WHERE status = 'complete'
GROUP BY customer_id
QUALIFY spend_rank <= 100;
