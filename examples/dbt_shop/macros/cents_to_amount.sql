{# Amounts arrive in cents; every model divides the same way. #}
{% macro cents_to_amount(column_name, scale=2) -%}
    round(cast({{ column_name }} as numeric) / 100, {{ scale }})
{%- endmacro %}
