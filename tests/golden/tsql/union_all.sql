INSERT INTO dw.t (id, v) SELECT id, a FROM s.one UNION ALL SELECT id, b FROM s.two
