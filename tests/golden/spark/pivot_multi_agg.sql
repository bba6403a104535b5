INSERT INTO mart.e SELECT region, q1_s, q2_av FROM (SELECT region, quarter, amount, cost FROM raw.sales) PIVOT (SUM(amount) AS s, AVG(cost) AS av FOR quarter IN ('Q1' AS q1, 'Q2' AS q2));
INSERT INTO mart.f SELECT * FROM (SELECT region, UPPER(quarter) AS quarter, amount * 2 AS amount FROM raw.sales) PIVOT (SUM(amount) FOR quarter IN ('Q1' AS q1, 'Q2' AS q2));
