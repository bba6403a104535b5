INSERT INTO s.t (a, b) (SELECT x, y FROM s.src);
INSERT INTO s.u (WITH w AS (SELECT a FROM s.z) SELECT a FROM w);
