SELECT c.CustomerId,
       STRING_AGG(t.TagName, ',') WITHIN GROUP (ORDER BY t.TagName) AS Tags,
       IIF(COUNT(t.TagId) > 5, 1, 0) AS IsPower
INTO rpt.CustomerTags
FROM dbo.Customers c
LEFT JOIN dbo.CustomerTag ct ON ct.CustomerId = c.CustomerId
LEFT JOIN dbo.Tag t ON t.TagId = ct.TagId
GROUP BY c.CustomerId;
