CREATE VIEW dw.v AS SELECT c.id, c.name FROM crm.customers c WHERE c.active = 1
