WITH r AS (
  SELECT id, parent FROM dbo.n WHERE parent IS NULL
  UNION ALL
  SELECT n.id, n.parent FROM dbo.n n JOIN r ON n.parent = r.id
)
INSERT INTO dbo.tree (id, parent) SELECT id, parent FROM r
