CREATE PROCEDURE dbo.usp_LoadDim
AS
BEGIN
    SET NOCOUNT ON;
    TRUNCATE TABLE dbo.DimProduct;
    INSERT INTO dbo.DimProduct (ProductKey, Name, Category)
    SELECT p.ProductID, p.Name, c.Name
    FROM src.Product p
    LEFT JOIN src.Category c ON c.CategoryID = p.CategoryID;
END
GO
