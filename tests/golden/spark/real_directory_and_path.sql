INSERT OVERWRITE DIRECTORY '/tmp/out' SELECT a FROM t;
INSERT INTO u SELECT a FROM parquet.`examples/users.parquet`;
