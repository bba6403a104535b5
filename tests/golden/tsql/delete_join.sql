DELETE a FROM dbo.t a JOIN dbo.bad b ON a.id = b.id
