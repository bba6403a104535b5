CREATE TABLE dw.t AS SELECT u.id, x.val FROM crm.users u, LATERAL (SELECT v.val FROM crm.vals v WHERE v.uid = u.id LIMIT 1) x
