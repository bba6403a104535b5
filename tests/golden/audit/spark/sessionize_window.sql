CREATE TABLE mart.sessions AS
SELECT user_id, ts,
  SUM(CASE WHEN ts - LAG(ts) OVER (PARTITION BY user_id ORDER BY ts) > 1800 THEN 1 ELSE 0 END)
    OVER (PARTITION BY user_id ORDER BY ts) AS session_no
FROM raw.clicks;
