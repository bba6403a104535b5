CREATE TEMPORARY TABLE tmp_dupes AS
SELECT email, MIN(id) AS keep_id
FROM crm.contacts
GROUP BY email
HAVING COUNT(*) > 1;

INSERT INTO crm.dedupe_log (email, kept_id)
SELECT email, keep_id FROM tmp_dupes;
