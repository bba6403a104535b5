INSERT OVERWRITE TABLE mart.clicks PARTITION (event_date)
SELECT e.user_id,
       c.url,
       c.ts,
       to_date(e.received_at) AS event_date
FROM raw.events e
LATERAL VIEW OUTER inline(from_json(e.body, 'array<struct<url:string,ts:timestamp>>')) c AS url, ts
WHERE e.kind = 'click';
