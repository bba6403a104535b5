-- BigQuery: weekly engagement per user.
CREATE OR REPLACE TABLE `analytics.marts.user_engagement` AS
WITH weekly AS (
  SELECT
    user_id,
    DATE_TRUNC(DATE(session_start), WEEK) AS week,
    COUNT(*) AS sessions,
    SUM(page_views) AS page_views
  FROM `analytics.staging.stg_sessions`
  GROUP BY user_id, week
)
SELECT w.user_id, w.week, w.sessions, w.page_views, u.plan
FROM weekly AS w
JOIN `analytics.raw.users` AS u USING (user_id);
