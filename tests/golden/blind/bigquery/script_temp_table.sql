DECLARE cutoff DATE DEFAULT DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY);

CREATE TEMP TABLE recent AS
SELECT order_id, customer_id, total FROM shop.orders WHERE order_date >= cutoff;

INSERT INTO mart.customer_week (customer_id, orders, total)
SELECT customer_id, COUNT(order_id), SUM(total)
FROM recent
GROUP BY customer_id;
