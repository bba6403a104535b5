INSERT INTO report.totals (kind, amount)
SELECT k, SUM(a) FROM (
  SELECT 'sale' AS k, total AS a FROM shop.orders
  UNION ALL
  SELECT 'refund', -amount FROM shop.refunds
) x GROUP BY k;
