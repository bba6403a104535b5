WITH moved AS (
    DELETE FROM app.sessions
    WHERE last_seen < now() - interval '30 days'
    RETURNING id, user_id, last_seen
)
INSERT INTO archive.sessions (id, user_id, last_seen)
SELECT id, user_id, last_seen FROM moved;
