select
    o.id as order_id,
    o.customer_id,
    o.status,
    o.ordered_at,
    o.updated_at
from {{ source('shop', 'orders') }} as o
where o.ordered_at >= '{{ var("first_order_date") }}'
