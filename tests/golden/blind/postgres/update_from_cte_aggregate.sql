WITH totals AS (
    SELECT account_id, sum(amount) AS balance
    FROM ledger.entries
    WHERE posted
    GROUP BY account_id
)
UPDATE ledger.accounts a
SET balance = t.balance,
    updated_at = now()
FROM totals t
WHERE a.id = t.account_id;
