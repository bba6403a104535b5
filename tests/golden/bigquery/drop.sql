DROP TABLE dw.old
