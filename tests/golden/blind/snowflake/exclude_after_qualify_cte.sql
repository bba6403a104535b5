CREATE OR REPLACE VIEW mart.customers_clean AS
WITH latest AS (
    SELECT id, email, phone, ssn, updated_at
    FROM raw.customers
    QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1
)
SELECT * EXCLUDE (ssn, updated_at)
FROM latest;
