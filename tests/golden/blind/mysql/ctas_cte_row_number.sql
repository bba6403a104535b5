CREATE TABLE analytics.latest_address AS
WITH ranked AS (
  SELECT user_id, street, city, zip,
         ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY created_at DESC) AS rn
  FROM app.addresses
)
SELECT user_id, street, city, zip FROM ranked WHERE rn = 1;
