CREATE VIEW mart.v AS
WITH a AS (SELECT * FROM raw.orders),
     b AS (SELECT a.*, c.segment FROM a JOIN raw.customers c ON a.customer_id = c.id)
SELECT id, amount, segment FROM b;
