CREATE TABLE #stage (Id INT, Amount DECIMAL(10,2));
INSERT INTO #stage (Id, Amount) SELECT OrderId, Total FROM dbo.Orders WHERE Total > 0;
INSERT INTO #stage SELECT RefundId, -Total FROM dbo.Refunds;
INSERT INTO rpt.Movements (Id, Amount) SELECT Id, Amount FROM #stage;
