UPDATE tgt
SET tgt.Status = CASE WHEN src.Amount > 100 THEN 'big' ELSE src.Status END,
    tgt.LoadedAt = GETDATE()
FROM dbo.Orders AS tgt
INNER JOIN staging.Orders AS src ON src.OrderId = tgt.OrderId
WHERE src.BatchId = 42;
