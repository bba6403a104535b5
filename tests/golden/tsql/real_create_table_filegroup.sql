CREATE TABLE [dbo].[m](
  [id] [int] IDENTITY(1,1) NOT NULL,
  [body] [nvarchar](max) NULL
) ON [PRIMARY] TEXTIMAGE_ON [PRIMARY]
