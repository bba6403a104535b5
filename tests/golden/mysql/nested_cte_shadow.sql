CREATE TABLE dw.t AS WITH x AS (SELECT id FROM raw.x), y AS (SELECT x.id FROM x JOIN raw.y ON x.id = y.id) SELECT id FROM y
