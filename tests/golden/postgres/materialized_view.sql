CREATE MATERIALIZED VIEW dw.mv AS SELECT cust_id, SUM(amount) AS total FROM sales.orders GROUP BY cust_id
