CREATE PROCEDURE dbo.load @d DATE
AS
BEGIN
  SET NOCOUNT ON;
  INSERT INTO dbo.fact (id) SELECT id FROM dbo.orders WHERE dt = @d;
  UPDATE dbo.fact SET amount = 0 WHERE id < 0;
END
GO

