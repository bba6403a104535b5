DELETE o FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id WHERE c.is_test = 1;
