CREATE OR REPLACE VIEW reporting.v_order_status AS
SELECT order_id,
       o.created_at,
       p.paid_at,
       CASE WHEN p.paid_at IS NULL THEN 'unpaid'
            WHEN p.amount < o.total THEN 'partial'
            ELSE 'paid' END AS payment_state
FROM shop.orders o
LEFT JOIN shop.payments p USING (order_id);
