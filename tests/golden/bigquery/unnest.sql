CREATE TABLE dw.t AS SELECT o.id, item FROM sales.orders o, UNNEST(o.items) AS item
