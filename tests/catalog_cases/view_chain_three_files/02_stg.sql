CREATE VIEW stg.customers AS SELECT * FROM raw.customers WHERE country IS NOT NULL;
