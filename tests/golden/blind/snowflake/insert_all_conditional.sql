INSERT ALL
  WHEN amount >= 1000 THEN
    INTO mart.big_orders (order_id, amount) VALUES (order_id, amount)
  ELSE
    INTO mart.small_orders (order_id, amount) VALUES (order_id, amount)
SELECT order_id, amount FROM raw.orders;
