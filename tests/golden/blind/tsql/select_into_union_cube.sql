SELECT Region, ProductLine, SUM(Amount) AS Amount
INTO #sales
FROM (
    SELECT Region, ProductLine, Amount FROM eu.Sales
    UNION ALL
    SELECT Region, ProductLine, NetAmount FROM us.Sales
) u
GROUP BY Region, ProductLine;

INSERT INTO rpt.SalesCube (Region, ProductLine, Amount)
SELECT Region, ProductLine, SUM(Amount)
FROM #sales
GROUP BY CUBE (Region, ProductLine);
