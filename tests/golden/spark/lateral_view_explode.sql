CREATE TABLE db.t AS SELECT s.id, x FROM db.s s LATERAL VIEW explode(s.arr) e AS x
