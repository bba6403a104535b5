-- bigquery-etl style: this file is only a SELECT; the root's target rule
-- ("{1}.{2}.{3}" over sql/<project>/<dataset>/<table>/query.sql) makes it a write
-- into analytics.derived.plan_engagement_v1.
SELECT
  plan,
  week,
  COUNT(DISTINCT user_id) AS users,
  SUM(page_views) AS page_views
FROM `analytics.marts.user_engagement`
GROUP BY plan, week
