CREATE VIEW mart.ranked AS
SELECT o.id,
       sum(o.amount) OVER (PARTITION BY o.customer_id ORDER BY o.created_at
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_total,
       lag(o.amount) OVER (PARTITION BY o.customer_id ORDER BY o.created_at) AS prev_amount,
       rank() OVER (ORDER BY o.amount DESC) AS amount_rank
FROM sales.orders o;
