SELECT StoreId, [2023] AS Y2023, [2024] AS Y2024
INTO rpt.StoreYears
FROM (SELECT StoreId, YEAR(SaleDate) AS Yr, Amount FROM dbo.Sales) AS src
PIVOT (SUM(Amount) FOR Yr IN ([2023], [2024])) AS p;
