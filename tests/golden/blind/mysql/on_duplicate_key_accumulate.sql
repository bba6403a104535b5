INSERT INTO inventory.stock_levels (sku, warehouse_id, qty, updated_at)
SELECT m.sku, m.warehouse_id, SUM(m.delta), MAX(m.moved_at)
FROM inventory.movements m
WHERE m.moved_at >= CURDATE()
GROUP BY m.sku, m.warehouse_id
ON DUPLICATE KEY UPDATE
  qty = stock_levels.qty + VALUES(qty),
  updated_at = VALUES(updated_at);
