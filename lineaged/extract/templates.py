"""Does text look like a template rather than SQL?

Used to say so in an error message (a parse error in `{{ ref('x') }}` is not a SQL
bug the user can fix in the SQL) and by the real-corpus benchmark to count template
files apart. Rendering templates is not extraction's job.
"""

from __future__ import annotations

import re

# Jinja (`{{ x }}`, `{% if %}`, `{# #}`) and SSMS template parameters
# (`<name, type, default>`: three comma-separated parts inside angle brackets).
_JINJA = re.compile(r"\{\{|\{%|\{#")
_SSMS = re.compile(r"<\s*[A-Za-z_][\w ]*,\s*[^,<>\n]*,\s*[^<>\n]*>")


def template_kind(text: str) -> str | None:
    """'Jinja' or 'SSMS template' when the text carries such markers, else None."""
    if _JINJA.search(text):
        return "Jinja"
    if _SSMS.search(text):
        return "SSMS template"
    return None


def looks_like_template(text: str) -> bool:
    return template_kind(text) is not None
