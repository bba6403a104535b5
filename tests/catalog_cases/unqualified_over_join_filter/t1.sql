CREATE TABLE s.a (a_id int, a_val int);
