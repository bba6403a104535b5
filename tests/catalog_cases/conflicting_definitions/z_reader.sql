CREATE VIEW core.account_names AS SELECT * FROM core.accounts;
