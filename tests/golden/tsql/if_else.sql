IF 1 = 1
  INSERT INTO dbo.a (id) SELECT id FROM dbo.x
ELSE
  INSERT INTO dbo.a (id) SELECT id FROM dbo.y
