CREATE TABLE raw.customers (customer_id int, full_name text, country text);
