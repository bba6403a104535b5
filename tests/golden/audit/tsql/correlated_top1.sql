INSERT INTO rpt.CustomerLast (CustomerId, LastStatus)
SELECT c.Id,
       (SELECT TOP 1 o.Status FROM dbo.Orders o WHERE o.CustomerId = c.Id ORDER BY o.OrderDate DESC)
FROM dbo.Customers c;
