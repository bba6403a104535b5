INSERT INTO mart.b SELECT region, q1, q2 FROM raw.sales PIVOT (SUM(amount) FOR quarter IN ('Q1', 'Q2')) AS p (region, q1, q2);
INSERT INTO mart.c SELECT reg, q1 FROM (SELECT region, quarter, amount FROM raw.sales) PIVOT (SUM(amount) FOR quarter IN ('Q1', 'Q2')) AS p (reg, q1, q2);
INSERT INTO mart.d SELECT * FROM raw.sales UNPIVOT (amount FOR quarter IN (q1, q2));
