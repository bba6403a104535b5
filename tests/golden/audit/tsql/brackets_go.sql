USE [Warehouse]
GO
INSERT INTO [dbo].[FactSales] ([SaleId], [Amount])
SELECT s.[Id], s.[Amount] * 1.0
FROM [staging].[Sales] AS s WITH (NOLOCK)
WHERE s.[IsValid] = 1
GO
