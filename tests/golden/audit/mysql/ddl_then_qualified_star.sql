CREATE TABLE shop.returns_raw (id INT, order_id INT, reason VARCHAR(100));
CREATE TABLE report.returns_copy AS SELECT r.* FROM shop.returns_raw r WHERE r.reason IS NOT NULL;
