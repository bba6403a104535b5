CREATE TABLE dw.t AS SELECT o.id, o.addr.city AS city FROM sales.orders o
