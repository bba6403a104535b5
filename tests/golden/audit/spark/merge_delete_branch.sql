MERGE INTO mart.users AS t USING raw.user_updates AS u ON t.id = u.id
WHEN MATCHED AND u.deleted THEN DELETE
WHEN MATCHED THEN UPDATE SET t.name = u.name, t.updated_at = u.ts
WHEN NOT MATCHED THEN INSERT (id, name, updated_at) VALUES (u.id, u.name, u.ts);
