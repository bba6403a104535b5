INSERT INTO TABLE mart.feature_values PARTITION (ds = '2024-06-01')
SELECT f.entity_id, kv.key AS feature, CAST(kv.value AS DOUBLE) AS value
FROM raw.features f
LATERAL VIEW explode(f.feature_map) kv AS key, value;
