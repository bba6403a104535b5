CREATE TEMPORARY TABLE tmp_orders AS SELECT id, customer_id, amount FROM raw.orders WHERE amount > 0;
CREATE TABLE mart.customer_totals AS
SELECT customer_id, SUM(amount) AS total FROM tmp_orders GROUP BY customer_id;
