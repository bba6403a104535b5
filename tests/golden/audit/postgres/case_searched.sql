INSERT INTO mart.tiers (id, tier)
SELECT c.id,
  CASE WHEN c.lifetime_value > 1000 THEN 'gold'
       WHEN c.signup_date < DATE '2020-01-01' THEN c.legacy_tier
       ELSE 'std' END
FROM crm.customers c;
