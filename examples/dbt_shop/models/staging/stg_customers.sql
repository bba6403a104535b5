select
    c.id as customer_id,
    lower(c.email) as email,
    c.first_name || ' ' || c.last_name as full_name,
    cc.country_name,
    c.created_at
from {{ source('shop', 'customers') }} as c
left join {{ ref('country_codes') }} as cc
    on cc.country_code = c.country_code
