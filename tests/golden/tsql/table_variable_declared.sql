DECLARE @T TABLE (Id INT, name VARCHAR(10)), @n INT;
INSERT INTO @t SELECT id, nm FROM dbo.x WHERE x.k = 1;
INSERT INTO dbo.y SELECT * FROM @t;
INSERT INTO dbo.z (id, n) SELECT v.id, q.n FROM @T v JOIN dbo.q q ON q.id = v.Id;
INSERT INTO dbo.e (id) SELECT id FROM @param;
