CREATE TABLE mart.t AS
WITH base AS (SELECT id, v FROM src.a),
     agg AS (
       WITH base AS (SELECT id, w AS v FROM src.b)
       SELECT id, SUM(v) AS total FROM base GROUP BY id
     )
SELECT agg.id, agg.total, base.v FROM agg JOIN base USING (id);
