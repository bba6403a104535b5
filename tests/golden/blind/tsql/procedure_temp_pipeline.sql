CREATE PROCEDURE etl.usp_LoadFactSales
AS
BEGIN
    SET NOCOUNT ON;

    SELECT s.SaleId, s.ProductId, s.Qty, s.UnitPrice, s.SaleDate
    INTO #stage
    FROM staging.Sales s
    WHERE s.SaleDate >= DATEADD(day, -1, CAST(GETDATE() AS date));

    SELECT st.SaleId, p.ProductKey, st.Qty * st.UnitPrice AS Amount, st.SaleDate
    INTO #keyed
    FROM #stage st
    INNER JOIN dw.DimProduct p ON p.ProductId = st.ProductId;

    INSERT INTO dw.FactSales (SaleId, ProductKey, Amount, SaleDate)
    SELECT k.SaleId, k.ProductKey, k.Amount, k.SaleDate
    FROM #keyed k
    WHERE NOT EXISTS (SELECT 1 FROM dw.FactSales f WHERE f.SaleId = k.SaleId);

    DROP TABLE #stage;
    DROP TABLE #keyed;
END
GO
