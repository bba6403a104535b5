INSERT INTO mart.contacts (email, full_name, source_system)
SELECT email_address, first_name || ' ' || last_name, 'crm' FROM crm.people
UNION ALL
SELECT mail, display_name, 'erp' FROM erp.users;
