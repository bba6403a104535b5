INSERT INTO mart.new_signups (user_id, signup_day, is_paid)
SELECT u.id,
       DATE_TRUNC('day', u.created_at) AS signup_day,
       IFF(u.plan = 'free', FALSE, TRUE)
FROM raw.users u
WHERE NOT EXISTS (SELECT 1 FROM mart.new_signups n WHERE n.user_id = u.id);
