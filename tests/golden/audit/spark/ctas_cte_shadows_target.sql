CREATE TABLE mart.events USING DELTA AS
WITH events AS (SELECT * FROM raw.events WHERE event_type <> 'debug'),
     users AS (SELECT id, country FROM raw.users)
SELECT e.event_id, u.country FROM events e JOIN users u ON u.id = e.user_id;
