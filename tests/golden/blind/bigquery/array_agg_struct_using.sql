CREATE OR REPLACE TABLE mart.customer_orders AS
SELECT
  c.customer_id,
  ANY_VALUE(c.name) AS name,
  ARRAY_AGG(STRUCT(o.order_id, o.total)) AS orders
FROM crm.customers AS c
LEFT JOIN sales.orders AS o USING (customer_id)
GROUP BY c.customer_id;
