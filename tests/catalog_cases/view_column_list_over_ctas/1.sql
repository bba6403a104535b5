CREATE TABLE w.src AS SELECT 1 AS k, 'x' AS label;
