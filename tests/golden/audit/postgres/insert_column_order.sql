-- Target columns listed in a different order than the source names suggest:
-- lineage is by position, not by name.
INSERT INTO mart.accounts (balance, account_id, opened_on)
SELECT a.id, a.current_balance, a.created_at::date FROM core.accounts a;
