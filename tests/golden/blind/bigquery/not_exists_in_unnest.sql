INSERT INTO mart.inactive_users (user_id, last_seen)
SELECT u.user_id, u.last_seen
FROM app.users AS u
WHERE NOT EXISTS (
  SELECT 1 FROM app.sessions AS s
  WHERE s.user_id = u.user_id
    AND s.started_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
)
AND u.status IN UNNEST(['active', 'trial']);
