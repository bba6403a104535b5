CREATE TABLE mart.order_totals AS
SELECT order_id,
       aggregate(transform(items, x -> x.price * x.qty), 0D, (acc, y) -> acc + y) AS order_total,
       size(filter(items, x -> x.qty > 0)) AS line_count
FROM raw.orders;
