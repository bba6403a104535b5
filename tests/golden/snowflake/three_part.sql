INSERT INTO analytics.dw.t (id) SELECT id FROM raw.sales.orders
