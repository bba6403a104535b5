INSERT INTO [dbo].[Fact] ([Id]) SELECT [o].[Id] FROM [dbo].[Orders] AS [o]
