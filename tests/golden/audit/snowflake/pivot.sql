CREATE TABLE mart.quarterly AS
SELECT region, q1, q2
FROM (SELECT region, quarter, amount FROM raw.sales)
PIVOT (SUM(amount) FOR quarter IN ('Q1', 'Q2')) AS p (region, q1, q2);
