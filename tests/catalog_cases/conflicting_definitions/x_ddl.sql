CREATE TABLE core.accounts (id int, name text);
