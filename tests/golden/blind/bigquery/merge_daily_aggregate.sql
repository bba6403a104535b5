MERGE `proj.mart.daily_revenue` T
USING (
  SELECT DATE(created_at) AS day, store_id, SUM(amount) AS revenue
  FROM `proj.raw.sales`
  WHERE DATE(created_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 3 DAY)
  GROUP BY day, store_id
) S
ON T.day = S.day AND T.store_id = S.store_id
WHEN MATCHED THEN
  UPDATE SET revenue = S.revenue
WHEN NOT MATCHED THEN
  INSERT (day, store_id, revenue) VALUES (S.day, S.store_id, S.revenue);
