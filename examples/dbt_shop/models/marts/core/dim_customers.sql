with orders as (
    select
        customer_id,
        min(ordered_at) as first_order_at,
        count(*) as order_count,
        sum(amount) as lifetime_value
    from {{ ref('fct_orders') }}
    group by customer_id
)

select
    c.customer_id,
    c.full_name,
    c.email,
    c.country_name,
    s.dbt_valid_from as customer_since,
    o.first_order_at,
    coalesce(o.order_count, 0) as order_count,
    coalesce(o.lifetime_value, 0) as lifetime_value
from {{ ref('stg_customers') }} as c
left join orders as o on o.customer_id = c.customer_id
left join {{ ref('customers_snapshot') }} as s
    on s.id = c.customer_id and s.dbt_valid_to is null
