CREATE OR REPLACE PROCEDURE etl.refresh()
RETURNS VARCHAR
LANGUAGE SQL
AS
$$
BEGIN
  TRUNCATE TABLE mart.daily;
  INSERT INTO mart.daily (d, n) SELECT order_date, COUNT(*) FROM raw.orders GROUP BY order_date;
  RETURN 'ok';
END;
$$;
