CREATE TEMP TABLE recent AS
SELECT id, amount, customer_id FROM sales.orders WHERE created_at > now() - interval '7 days';
INSERT INTO mart.recent_totals (customer_id, total)
SELECT customer_id, sum(amount) FROM recent GROUP BY customer_id;
