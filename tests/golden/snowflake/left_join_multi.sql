CREATE TABLE dw.t AS SELECT o.id, c.name, p.title FROM sales.orders o LEFT JOIN crm.customers c ON o.cust_id = c.id LEFT JOIN sales.products p ON o.product_id = p.id
