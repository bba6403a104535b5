MERGE INTO mart.orders t
USING (
    SELECT order_id, status, amount, updated_at
    FROM staging.orders
    WHERE updated_at > DATEADD(day, -3, CURRENT_DATE())
    QUALIFY ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1
) s
ON t.order_id = s.order_id
WHEN MATCHED AND s.updated_at > t.updated_at THEN
    UPDATE SET status = s.status, amount = s.amount, updated_at = s.updated_at
WHEN NOT MATCHED THEN
    INSERT (order_id, status, amount, updated_at)
    VALUES (s.order_id, s.status, s.amount, s.updated_at);
