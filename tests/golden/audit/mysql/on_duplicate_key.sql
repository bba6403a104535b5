INSERT INTO stats.daily_visits (day, visits)
SELECT DATE(created_at), COUNT(*) FROM web.visits GROUP BY DATE(created_at)
ON DUPLICATE KEY UPDATE visits = VALUES(visits);
