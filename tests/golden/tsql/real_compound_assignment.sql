DECLARE @x INT = 0;
SET @x += 1;
SET NOCOUNT ON;
UPDATE sr SET sr.Name += ' (old)' FROM Sales.Region AS sr JOIN Sales.Closed AS c ON c.RegionID = sr.RegionID;
