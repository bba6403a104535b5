CREATE OR REPLACE TEMPORARY VIEW active_users AS
SELECT user_id, country FROM raw.users WHERE is_active = true;

INSERT INTO mart.country_orders
SELECT u.country, count(o.order_id) AS orders, sum(o.amount) AS amount
FROM raw.orders o
JOIN active_users u USING (user_id)
GROUP BY u.country;
