INSERT INTO dw.t (id) SELECT id FROM sales.orders WHERE cust_id IN (SELECT id FROM crm.vip)
