INSERT INTO mart.latest_payment (customer_id, last_amount)
SELECT c.id, lp.amount
FROM crm.customers c
LEFT JOIN LATERAL (
  SELECT p.amount FROM billing.payments p
  WHERE p.customer_id = c.id ORDER BY p.paid_at DESC LIMIT 1
) lp ON true;
