CREATE OR REPLACE TABLE mart.order_item_options AS
SELECT o.order_id,
       i.value:sku::string AS sku,
       opt.value:name::string AS option_name,
       i.index AS item_position
FROM raw.orders o,
     LATERAL FLATTEN(input => o.doc:items) i,
     LATERAL FLATTEN(input => i.value:options) opt;
