CREATE TABLE s.b (b_id int, a_ref int, b_val int);
