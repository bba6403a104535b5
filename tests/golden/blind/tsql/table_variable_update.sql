DECLARE @ids TABLE (CustomerId int);

INSERT INTO @ids (CustomerId)
SELECT CustomerId FROM dbo.Orders GROUP BY CustomerId HAVING SUM(Total) > 10000;

UPDATE c
SET c.Tier = 'gold'
FROM dbo.Customers c
JOIN @ids i ON i.CustomerId = c.CustomerId;
GO
