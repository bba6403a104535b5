INSERT INTO fact (id) SELECT id FROM orders
