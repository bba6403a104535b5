CREATE TABLE ds.sessions (session_id STRING, user_id STRING, ip STRING, started_at TIMESTAMP);
