INSERT INTO mart.big_spenders
SELECT customer_id, SUM(amount) AS total FROM raw.orders
WHERE customer_id IN (SELECT id FROM raw.customers WHERE country = 'DE')
GROUP BY customer_id HAVING SUM(amount) > 1000;
