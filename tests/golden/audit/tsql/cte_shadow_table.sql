WITH Sales AS (
    SELECT s.StoreId, s.Amount FROM dbo.Sales s WHERE s.Amount > 0
)
INSERT INTO rpt.StoreSales (StoreId, Amount)
SELECT StoreId, SUM(Amount) FROM Sales GROUP BY StoreId;
