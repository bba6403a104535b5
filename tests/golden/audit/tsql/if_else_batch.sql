IF EXISTS (SELECT 1 FROM sys.tables WHERE name = 'Fact')
    DELETE FROM dbo.Fact WHERE LoadDate = CAST(GETDATE() AS DATE)
ELSE
    PRINT 'missing'
INSERT INTO dbo.Fact (LoadDate, Cnt) SELECT CAST(GETDATE() AS DATE), COUNT(EventId) FROM dbo.Events
