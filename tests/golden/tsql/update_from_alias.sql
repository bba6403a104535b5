UPDATE f SET f.amount = s.amount FROM dbo.fact f JOIN dbo.src s ON f.id = s.id
