CREATE TABLE mart.users_public AS SELECT * EXCEPT (password_hash) FROM app.users;
