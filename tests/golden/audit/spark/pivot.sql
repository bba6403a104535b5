CREATE TABLE mart.q AS
SELECT region, q1, q2
FROM (SELECT region, quarter, amount FROM raw.sales)
PIVOT (SUM(amount) FOR quarter IN ('Q1' AS q1, 'Q2' AS q2));
