CREATE TABLE dw.t AS SELECT id, ROW_NUMBER() OVER (PARTITION BY cust_id ORDER BY dt) AS rn, SUM(amount) OVER (PARTITION BY cust_id) AS cust_total FROM sales.orders
