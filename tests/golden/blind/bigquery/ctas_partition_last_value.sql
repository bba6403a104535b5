CREATE OR REPLACE TABLE mart.events_filled
PARTITION BY DATE(event_ts)
CLUSTER BY user_id
AS
SELECT
  user_id,
  event_ts,
  LAST_VALUE(campaign IGNORE NULLS) OVER (
    PARTITION BY user_id ORDER BY event_ts
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS campaign_filled
FROM raw.events;
