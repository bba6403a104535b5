CREATE TABLE dw.emp_mgr AS SELECT e.name AS emp, m.name AS mgr FROM hr.emp e JOIN hr.emp m ON e.mgr_id = m.id
