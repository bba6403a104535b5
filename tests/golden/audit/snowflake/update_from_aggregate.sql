UPDATE dw.accounts a
SET balance = t.new_balance, last_txn = t.txn_at
FROM (SELECT account_id, SUM(delta) AS new_balance, MAX(created_at) AS txn_at
      FROM raw.txns GROUP BY account_id) t
WHERE a.id = t.account_id;
