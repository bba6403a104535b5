CREATE TABLE dw.t AS SELECT s.id, f.value AS item FROM raw.src s, LATERAL FLATTEN(input => s.items) f
