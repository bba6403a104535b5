DECLARE run_date DATE DEFAULT CURRENT_DATE();
BEGIN
  CREATE TEMP TABLE staged AS SELECT * FROM raw.events WHERE DATE(ts) = run_date;
  INSERT INTO mart.events (event_id, ts) SELECT event_id, ts FROM staged;
END;
