MERGE INTO dw.customers t
USING (SELECT id, email, status, is_deleted FROM staging.customers) s
ON t.id = s.id
WHEN MATCHED AND s.is_deleted THEN DELETE
WHEN MATCHED AND s.status = 'active' THEN UPDATE SET t.email = s.email, t.status = s.status
WHEN NOT MATCHED AND NOT s.is_deleted THEN INSERT (id, email, status) VALUES (s.id, s.email, s.status);
