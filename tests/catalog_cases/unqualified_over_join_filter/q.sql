INSERT INTO s.out (x, y) SELECT a_val, b_val FROM s.a JOIN s.b ON a_id = a_ref WHERE b_val > 0;
