UPDATE shop.products p
SET p.avg_rating = (SELECT AVG(r.stars) FROM shop.reviews r
                     WHERE r.product_id = p.id AND r.approved = 1),
    p.review_count = (SELECT COUNT(*) FROM shop.reviews r2 WHERE r2.product_id = p.id)
WHERE p.active = 1;
