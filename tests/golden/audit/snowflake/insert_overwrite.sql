INSERT OVERWRITE INTO mart.snapshot (id, amount) SELECT id, amount * 1.2 FROM raw.orders;
