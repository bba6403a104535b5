CREATE TABLE app.users (id int, email text);
