UPDATE shop.products p
JOIN shop.inventory i ON i.product_id = p.id
SET p.in_stock = (i.qty > 0), p.stock_qty = i.qty
WHERE i.warehouse = 'main';
