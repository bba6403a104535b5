SELECT id, amount INTO #stage FROM dbo.orders WHERE amount > 0
INSERT INTO dbo.fact (id, amount) SELECT id, amount FROM #stage
DROP TABLE #stage
