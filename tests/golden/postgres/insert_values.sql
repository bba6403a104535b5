INSERT INTO dw.fact (id, amount) VALUES (1, 2)
