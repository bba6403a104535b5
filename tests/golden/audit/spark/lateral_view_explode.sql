CREATE TABLE mart.user_tags AS
SELECT u.id, tag FROM raw.users u LATERAL VIEW EXPLODE(u.tags) t AS tag;
