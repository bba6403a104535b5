SELECT o.CustomerId, SUM(o.Total) AS Total
INTO #totals
FROM dbo.Orders o
GROUP BY o.CustomerId;

SELECT t.CustomerId, t.Total, c.Region
INTO #enriched
FROM #totals t JOIN dbo.Customers c ON c.Id = t.CustomerId;

INSERT INTO dbo.RegionTotals (Region, Total)
SELECT Region, SUM(Total) FROM #enriched GROUP BY Region;
