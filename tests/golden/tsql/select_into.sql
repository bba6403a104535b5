SELECT o.id, o.amount INTO dbo.snapshot FROM dbo.orders o
