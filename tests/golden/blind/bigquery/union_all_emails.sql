CREATE TABLE mart.contacts AS
SELECT LOWER(email) AS email, 'crm' AS source FROM crm.contacts
UNION ALL
SELECT LOWER(e.address), 'shop' FROM shop.customers AS c, UNNEST(c.emails) AS e
UNION ALL
SELECT LOWER(JSON_VALUE(payload, '$.email')), 'events' FROM raw.events WHERE event_name = 'signup';
