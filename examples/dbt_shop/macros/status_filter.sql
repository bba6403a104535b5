{% macro status_in(column_name, statuses) -%}
    {{ column_name }} in ({% for s in statuses %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
