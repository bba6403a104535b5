CREATE TABLE mart.all_payments AS
SELECT 'stripe' AS provider, charge_id AS payment_id, amount / 100.0 AS amount, created AS paid_at
FROM stripe.charges
WHERE status = 'succeeded'
UNION ALL
SELECT 'paypal', txn_id, gross_amount, txn_time
FROM paypal.transactions
UNION ALL
SELECT 'adyen', psp_reference, settled_value, event_date
FROM adyen.settlements
WHERE success;
