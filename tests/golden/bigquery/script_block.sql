BEGIN
  INSERT INTO dw.a (id) SELECT id FROM sales.x;
  INSERT INTO dw.b (id) SELECT id FROM dw.a;
END;
