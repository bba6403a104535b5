CREATE TABLE mart.org_tree AS
WITH RECURSIVE tree AS (
  SELECT id, parent_id, name, 1 AS depth FROM hr.departments WHERE parent_id IS NULL
  UNION ALL
  SELECT d.id, d.parent_id, d.name, t.depth + 1
  FROM hr.departments d JOIN tree t ON d.parent_id = t.id
)
SELECT id, name, depth FROM tree;
