-- Staging: one row per order, amounts in cents converted to currency units.
CREATE OR REPLACE VIEW staging.stg_orders AS
SELECT
    o.id                 AS order_id,
    o.customer_id,
    o.status,
    o.amount_cents / 100.0 AS amount,
    o.ordered_at
FROM raw.orders AS o;

CREATE OR REPLACE VIEW staging.stg_order_items AS
SELECT
    i.order_id,
    i.product_id,
    i.quantity,
    i.unit_price_cents / 100.0 AS unit_price
FROM raw.order_items AS i;
