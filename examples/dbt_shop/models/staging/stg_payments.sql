select
    p.id as payment_id,
    p.order_id,
    p.method as payment_method,
    {{ cents_to_amount('p.amount_cents') }} as amount
from {{ source('shop', 'payments') }} as p
where p.status = 'success'
