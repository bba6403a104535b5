-- Reads the table the query next door writes: lineage continues across files.
SELECT
  week,
  SUM(users) AS active_users
FROM `analytics.derived.plan_engagement_v1`
WHERE users > 0
GROUP BY week
