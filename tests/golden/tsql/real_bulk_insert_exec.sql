BULK INSERT dbo.Staging FROM 'C:\data\rows.csv' WITH (FIELDTERMINATOR = ',', ROWTERMINATOR = '\n');
INSERT INTO dbo.Results (a, b) EXEC dbo.compute_results @day = 1;
EXEC sp_execute_external_script @language = N'Python', @script = N'x' WITH RESULT SETS ((a int));
