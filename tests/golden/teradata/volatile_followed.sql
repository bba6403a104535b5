CREATE VOLATILE TABLE stage AS (SELECT id, amount FROM sales.orders) WITH DATA ON COMMIT PRESERVE ROWS;
INSERT INTO dw.fact (id, amount) SELECT id, amount FROM stage;
