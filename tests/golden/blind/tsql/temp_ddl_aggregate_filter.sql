CREATE TABLE #balances (AccountId int, Balance decimal(18, 2), LastTxn datetime);

INSERT INTO #balances (AccountId, Balance, LastTxn)
SELECT AccountId, SUM(Amount), MAX(TxnDate)
FROM fin.Transactions
GROUP BY AccountId;

INSERT INTO fin.AccountSnapshot (AccountId, Balance, LastTxn, SnapshotDate)
SELECT b.AccountId, b.Balance, b.LastTxn, CAST(GETDATE() AS date)
FROM #balances b
WHERE b.Balance <> 0;
