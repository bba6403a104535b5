INSERT INTO hr.emp_mgr (emp_name, mgr_name)
SELECT e.name, m.name
FROM hr.employees e
LEFT JOIN hr.employees m ON e.manager_id = m.id;
