INSERT INTO dw.events SELECT id, uid, lower(type), created FROM staging.raw_events;
