INSERT INTO mart.active_ids (id)
SELECT user_id FROM app.logins
UNION DISTINCT
SELECT user_id FROM app.purchases
EXCEPT DISTINCT
SELECT user_id FROM app.banned;
