UPDATE dw.t SET name = c.name FROM crm.customers c WHERE dw.t.cust_id = c.id
