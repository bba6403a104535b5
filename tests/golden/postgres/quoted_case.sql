CREATE TABLE dw."Mixed" AS SELECT "Id", name FROM "Sales".orders
