CREATE OR REPLACE VIEW ds.daily AS
SELECT DATE(started_at) AS day, COUNT(DISTINCT user_id) AS users
FROM ds.sessions_clean
GROUP BY day;
