INSERT IGNORE INTO crm.leads (email, full_name, source)
SELECT LOWER(TRIM(f.email)),
       CONCAT(f.first_name, ' ', f.last_name),
       JSON_UNQUOTE(JSON_EXTRACT(f.meta, '$.utm_source'))
FROM web.form_submissions f
WHERE NOT EXISTS (SELECT 1 FROM crm.leads l WHERE l.email = LOWER(TRIM(f.email)));
