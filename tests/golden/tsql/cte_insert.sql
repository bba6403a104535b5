WITH c AS (SELECT id FROM dbo.x) INSERT INTO dbo.a (id) SELECT id FROM c;
