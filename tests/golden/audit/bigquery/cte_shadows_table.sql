CREATE OR REPLACE VIEW mart.v_orders AS
WITH orders AS (SELECT * FROM sales.orders WHERE NOT is_test)
SELECT order_id, amount FROM orders;
