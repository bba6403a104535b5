CREATE MATERIALIZED VIEW mart.user_streaks AS
WITH days AS (
    SELECT DISTINCT user_id, activity_date FROM app.activity
),
grp AS (
    SELECT user_id,
           activity_date,
           activity_date - (row_number() OVER (PARTITION BY user_id ORDER BY activity_date))::int AS streak_key
    FROM days
)
SELECT user_id,
       min(activity_date) AS streak_start,
       max(activity_date) AS streak_end,
       count(*) AS streak_days
FROM grp
GROUP BY user_id, streak_key;
