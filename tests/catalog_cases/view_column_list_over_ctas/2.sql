CREATE VIEW w.v1 (k2, name) AS SELECT * FROM w.src;
