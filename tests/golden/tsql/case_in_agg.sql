CREATE TABLE dw.t AS SELECT cust_id, SUM(CASE WHEN kind = 'r' THEN amount END) AS refunds FROM sales.orders GROUP BY cust_id
