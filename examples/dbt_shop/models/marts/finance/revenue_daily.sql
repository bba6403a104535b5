{{ config(alias='daily_revenue') }}

select
    cast(o.ordered_at as date) as order_date,
    count(distinct o.order_id) as orders,
    sum(o.amount) as revenue
from {{ ref('fct_orders') }} as o
where {{ status_in('o.status', var('revenue_statuses')) }}
group by 1
