{{ config(materialized='incremental', unique_key='order_id') }}

with payments as (
    select order_id, sum(amount) as amount
    from {{ ref('stg_payments') }}
    group by order_id
)

select
    o.order_id,
    o.customer_id,
    o.status,
    o.ordered_at,
    o.updated_at,
    coalesce(p.amount, 0) as amount
from {{ ref('stg_orders') }} as o
left join payments as p on p.order_id = o.order_id
{% if is_incremental() %}
where o.updated_at > (select max(t.updated_at) from {{ this }} as t)
{% endif %}
