EXEC dbo.something 1, 2;
