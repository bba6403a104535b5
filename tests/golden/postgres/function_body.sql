CREATE OR REPLACE FUNCTION dw.refresh() RETURNS void AS $$
BEGIN
  INSERT INTO dw.a (id) SELECT id FROM s.x;
  DELETE FROM dw.a WHERE id < 0;
END;
$$ LANGUAGE plpgsql;
