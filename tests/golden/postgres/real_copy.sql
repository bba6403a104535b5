COPY t (a) TO '/tmp/f.csv';
COPY (SELECT a FROM s) TO '/tmp/g.csv';
COPY t FROM '/tmp/h.csv';
COPY t FROM STDIN;
