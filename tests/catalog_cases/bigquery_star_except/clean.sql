CREATE OR REPLACE TABLE ds.sessions_clean AS SELECT * EXCEPT (ip) FROM ds.sessions;
