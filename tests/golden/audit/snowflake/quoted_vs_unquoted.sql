CREATE OR REPLACE TABLE analytics.public.customer_dim AS
SELECT c.id, c."firstName" AS first_name, c.LastName
FROM raw.crm."Customers" c;
