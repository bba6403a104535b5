CREATE TABLE dw.events (event_id bigint, user_id bigint, kind text, occurred_at timestamp);
