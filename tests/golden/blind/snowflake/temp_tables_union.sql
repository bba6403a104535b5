CREATE TEMPORARY TABLE tmp_web AS
SELECT session_id, user_id, started_at, 'web' AS channel FROM raw.web_sessions;

CREATE TEMPORARY TABLE tmp_app AS
SELECT session_id, device_user_id AS user_id, start_ts AS started_at, 'app' AS channel
FROM raw.app_sessions;

CREATE OR REPLACE TABLE mart.sessions AS
SELECT session_id, user_id, started_at, channel FROM tmp_web
UNION ALL
SELECT session_id, user_id, started_at, channel FROM tmp_app;
