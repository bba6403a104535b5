CREATE OR REPLACE TABLE analytics.event_props AS
SELECT e.event_id,
       e.payload:user.id::string AS user_id,
       f.key AS prop_name,
       f.value::string AS prop_value
FROM raw.events e,
     LATERAL FLATTEN(input => e.payload:properties) f
WHERE e.payload:type::string = 'track';
