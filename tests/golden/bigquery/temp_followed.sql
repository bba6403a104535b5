CREATE TEMP TABLE stage AS SELECT id, amount FROM sales.orders;
INSERT INTO dw.fact (id, amount) SELECT id, amount FROM stage;
