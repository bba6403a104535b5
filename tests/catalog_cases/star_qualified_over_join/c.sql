CREATE VIEW app.user_orders AS SELECT u.*, o.total FROM app.users u LEFT JOIN app.orders o ON o.user_id = u.id;
