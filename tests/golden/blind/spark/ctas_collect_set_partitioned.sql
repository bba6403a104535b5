CREATE TABLE mart.user_features
USING parquet
PARTITIONED BY (country)
AS
SELECT user_id,
       collect_set(product_id) AS products,
       array_contains(collect_list(event_type), 'purchase') AS has_purchased,
       max(country) AS country
FROM raw.events
GROUP BY user_id;
