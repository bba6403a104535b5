CREATE TABLE dw.t AS SELECT "MixedCol", plain FROM raw.src
