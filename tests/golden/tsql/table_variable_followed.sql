DECLARE @t TABLE (id INT);
INSERT INTO @t (id) SELECT id FROM dbo.x;
INSERT INTO dbo.y (id) SELECT id FROM @t;
