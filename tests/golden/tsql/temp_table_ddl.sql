CREATE TABLE #t (id INT, v INT);
INSERT INTO #t (id, v) SELECT id, v FROM dbo.src;
INSERT INTO dbo.out (id, v) SELECT id, v + 1 FROM #t;
