insert into dbo.top_customers select * from dbo.customer_totals where total > 1000;
