CREATE OR REPLACE FUNCTION etl.load_daily() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM mart.daily WHERE day = current_date;
  INSERT INTO mart.daily (day, revenue)
  SELECT current_date, sum(o.amount) FROM sales.orders o WHERE o.created_at::date = current_date;
END;
$$;
