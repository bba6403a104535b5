CREATE VIEW mart.customers_de AS SELECT * FROM stg.customers WHERE country = 'DE';
