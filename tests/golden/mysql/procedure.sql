CREATE PROCEDURE dw.p()
BEGIN
  INSERT INTO dw.a (id) SELECT id FROM s.x;
  UPDATE dw.a SET id = id + 1;
END;
