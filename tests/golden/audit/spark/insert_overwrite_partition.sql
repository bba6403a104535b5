INSERT OVERWRITE TABLE mart.daily PARTITION (dt = '2024-01-01')
SELECT user_id, COUNT(DISTINCT session_id) AS sessions
FROM raw.events WHERE dt = '2024-01-01' GROUP BY user_id;
