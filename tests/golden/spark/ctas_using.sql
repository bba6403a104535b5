CREATE TABLE db.t USING parquet AS SELECT id, amount FROM db.orders
