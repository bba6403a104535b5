INSERT INTO dbo.a (id) SELECT id FROM dbo.x
GO
INSERT INTO dbo.b (id) SELECT id FROM dbo.y
GO

