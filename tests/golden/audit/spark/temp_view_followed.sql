CREATE OR REPLACE TEMPORARY VIEW active AS
SELECT id, plan FROM raw.subscriptions WHERE status = 'active';
INSERT INTO mart.plan_counts
SELECT plan, COUNT(id) AS n FROM active GROUP BY plan;
