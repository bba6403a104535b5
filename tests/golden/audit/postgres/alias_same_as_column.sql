CREATE TABLE mart.clean_customers AS
SELECT id, trim(name) AS name, lower(email) AS email, coalesce(country, 'unknown') AS country
FROM crm.customers;
