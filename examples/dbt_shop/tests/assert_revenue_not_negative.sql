-- A singular data test: rows returned are failures. Reads, writes nothing.
select order_date, revenue
from {{ ref('revenue_daily') }}
where revenue < 0
