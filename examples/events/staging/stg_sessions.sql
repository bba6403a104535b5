-- BigQuery: sessions from the raw event stream.
CREATE OR REPLACE TABLE `analytics.staging.stg_sessions` AS
SELECT
  e.user_id,
  e.session_id,
  MIN(e.event_ts) AS session_start,
  MAX(e.event_ts) AS session_end,
  COUNTIF(e.event_name = 'page_view') AS page_views
FROM `analytics.raw.events` AS e
WHERE e.event_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
GROUP BY e.user_id, e.session_id;
