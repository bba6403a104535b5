CREATE TABLE dw.t AS SELECT c.id, (SELECT MAX(o.amount) FROM sales.orders o WHERE o.cust_id = c.id) AS max_amount FROM crm.customers c
