CREATE TABLE dw.t AS SELECT id, name FROM sales.orders o JOIN crm.customers c ON o.cust_id = c.id
