SELECT id INTO TEMP stage FROM sales.orders;
INSERT INTO dw.t (id) SELECT id FROM stage;
