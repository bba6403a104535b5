CREATE TABLE mart.device_rollup AS
SELECT device.operating_system AS os,
       geo.country AS country,
       COUNT(DISTINCT user_pseudo_id) AS users
FROM analytics.events_2024
GROUP BY ROLLUP (os, country);
