INSERT INTO dw.t SELECT * FROM sales.orders o JOIN crm.customers c ON o.cust_id = c.id
