SELECT Id, Name INTO dbo.AllParties FROM dbo.Customers
UNION ALL
SELECT SupplierId, CompanyName FROM dbo.Suppliers;
