INSERT INTO mart.latest_orders (order_id, customer_id, amount)
SELECT id, customer_id, amount FROM raw.orders
QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) = 1;
