CREATE OR REPLACE VIEW mart.users_current AS
WITH src AS (
  SELECT user_id, email, password_hash, country, updated_at
  FROM raw.users
)
SELECT * EXCEPT (password_hash)
FROM src
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY updated_at DESC) = 1;
