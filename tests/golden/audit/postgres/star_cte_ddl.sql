CREATE TABLE staging.events (event_id bigint, user_id bigint, event_type text, occurred_at timestamp);
INSERT INTO mart.events_clean
WITH e AS (SELECT * FROM staging.events WHERE event_type IS NOT NULL)
SELECT * FROM e;
