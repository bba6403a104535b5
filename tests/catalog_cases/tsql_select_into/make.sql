select customer_id, sum(amount) as total into dbo.customer_totals from dbo.payments group by customer_id;
