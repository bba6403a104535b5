SELECT a.AccountId,
       t.TxnDate,
       SUM(t.Amount) OVER (PARTITION BY a.AccountId ORDER BY t.TxnDate ROWS UNBOUNDED PRECEDING) AS RunningBalance,
       CASE WHEN t.Amount < 0 THEN 'debit' ELSE 'credit' END AS Direction
INTO rpt.AccountLedger
FROM fin.Accounts a
JOIN fin.Transactions t ON t.AccountId = a.AccountId
WHERE a.IsClosed = 0;
