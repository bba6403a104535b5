-- An analysis: compiled, never built. It reads fct_orders and writes nothing.
select status, count(*) as orders
from {{ ref('fct_orders') }}
group by status
