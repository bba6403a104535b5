CREATE TABLE dw.t AS SELECT cust_id, COUNT(*) AS n FROM sales.orders GROUP BY cust_id HAVING SUM(amount) > 10
