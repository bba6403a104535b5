CREATE TABLE app.orders (id int, user_id int, total numeric);
