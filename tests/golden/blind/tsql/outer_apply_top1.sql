CREATE VIEW rpt.vCustomerLastOrder AS
SELECT c.CustomerId, c.Name, lo.OrderDate AS LastOrderDate, lo.Total AS LastOrderTotal
FROM dbo.Customers c
OUTER APPLY (
    SELECT TOP 1 o.OrderDate, o.Total
    FROM dbo.Orders o
    WHERE o.CustomerId = c.CustomerId
    ORDER BY o.OrderDate DESC
) lo;
