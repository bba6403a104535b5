INSERT INTO t (n, top_id) VALUES (1, (SELECT max(id) FROM u));
