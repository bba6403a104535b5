CREATE OR REPLACE VIEW mart.user_profile AS
SELECT u.user_id,
       OBJECT_CONSTRUCT('email', u.email, 'plan', p.plan_name) AS profile,
       GET_PATH(PARSE_JSON(u.settings_json), 'notifications.email')::boolean AS email_opt_in
FROM raw.users u
LEFT JOIN raw.plans p ON p.plan_id = u.plan_id;
