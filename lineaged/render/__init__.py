"""Rendering before extraction: what a file's text means once its templates and
conventions are applied (path-target rules, generic Jinja, dbt projects)."""
