-- Staging: clean the raw customer feed.
CREATE OR REPLACE VIEW staging.stg_customers AS
SELECT
    c.id                      AS customer_id,
    lower(trim(c.email))      AS email,
    c.first_name || ' ' || c.last_name AS full_name,
    c.created_at::date        AS signup_date,
    c.country_code
FROM raw.customers AS c
WHERE c.deleted_at IS NULL;
