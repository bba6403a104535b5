CREATE TEMPORARY TABLE tmp_top AS
SELECT customer_id, SUM(total) AS spent FROM shop.orders
GROUP BY customer_id ORDER BY spent DESC LIMIT 100;
INSERT INTO crm.vip (customer_id, spent)
SELECT t.customer_id, t.spent FROM tmp_top t JOIN crm.customers c ON c.id = t.customer_id;
