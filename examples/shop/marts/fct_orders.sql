-- Fact table: completed orders with their item totals.
CREATE TABLE marts.fct_orders AS
WITH items AS (
    SELECT order_id, sum(quantity * unit_price) AS items_total, count(*) AS item_count
    FROM staging.stg_order_items
    GROUP BY order_id
)
SELECT
    o.order_id,
    o.customer_id,
    o.ordered_at,
    o.amount,
    items.items_total,
    items.item_count
FROM staging.stg_orders AS o
JOIN items ON items.order_id = o.order_id
WHERE o.status = 'completed';
