CREATE TABLE core.accounts AS SELECT id, name, balance FROM legacy.accounts;
