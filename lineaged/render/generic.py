"""Generic Jinja for roots that opt in (`template = "jinja"`): the configured `vars`
are the only names; an unknown name, or a call of an unknown function, is an error
naming it (guessing would put template text into the graph)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment

from lineaged.render.templates import compile_template, render, strict_env


def render_jinja(text: str, variables: dict[str, Any]) -> str:
    return render(compile_template(_env(), text), variables)


@cache
def _env() -> Environment:
    return strict_env()
