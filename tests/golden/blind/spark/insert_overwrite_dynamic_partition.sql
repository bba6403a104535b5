WITH ev AS (
  SELECT user_id, event_type, revenue, to_date(event_ts) AS dt
  FROM raw.events
  WHERE event_ts >= date_sub(current_date(), 2)
)
INSERT OVERWRITE TABLE mart.user_daily PARTITION (dt)
SELECT user_id,
       count(*) AS events,
       sum(CASE WHEN event_type = 'purchase' THEN revenue ELSE 0 END) AS revenue,
       dt
FROM ev
GROUP BY user_id, dt;
