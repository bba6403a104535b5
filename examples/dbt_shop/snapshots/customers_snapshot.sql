{% snapshot customers_snapshot %}
{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at') }}
select id, email, country_code, updated_at from {{ source('shop', 'customers') }}
{% endsnapshot %}
