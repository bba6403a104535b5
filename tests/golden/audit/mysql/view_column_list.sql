CREATE OR REPLACE VIEW report.v_customer (cid, full_name) AS
SELECT id, CONCAT(first_name, ' ', last_name) FROM shop.customers WHERE active = 1;
