CREATE TABLE dw.t AS SELECT o.amount, c.name FROM sales.orders o JOIN crm.customers c USING (cust_id)
