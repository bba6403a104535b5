MERGE INTO dbo.tgt AS t USING dbo.src AS s ON t.id = s.id
WHEN MATCHED AND s.flag = 1 THEN UPDATE SET t.v = s.v
WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v);
