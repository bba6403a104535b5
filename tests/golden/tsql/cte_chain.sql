INSERT INTO dw.t (id, total) WITH a AS (SELECT id, amount FROM sales.orders), b AS (SELECT id, SUM(amount) AS total FROM a GROUP BY id) SELECT id, total FROM b
