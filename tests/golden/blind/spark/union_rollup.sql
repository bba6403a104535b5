CREATE TABLE mart.traffic_rollup AS
SELECT country, platform, sum(views) AS views
FROM (
  SELECT country, 'web' AS platform, page_views AS views FROM raw.web_traffic
  UNION ALL
  SELECT country_code, 'ios', screen_views FROM raw.ios_traffic
  UNION ALL
  SELECT country_code, 'android', screen_views FROM raw.android_traffic
) t
GROUP BY country, platform WITH ROLLUP;
