"""Rendering with jinja2: one sandbox-free Environment per project context, cached in
the worker, macro files compiled once, errors mapped to a template line.

dbt's Jinja dialect on top of jinja2: the `do` and loop-control extensions, `return()`
from a macro, `{% test %}` blocks as macros, `{% docs %}` / `{% materialization %}`
blocks ignored, `{% snapshot name %}` wrappers stripped (their body is the query).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import Environment, StrictUndefined, Template, Undefined

from lineaged.render.dbt_context import MacroReturn, RenderError

_MACRO_DEF = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\(")
_TEST_BLOCK = re.compile(r"\{%(-?)\s*test\s+(\w+)\s*\(")
_END_TEST = re.compile(r"\{%(-?)\s*endtest\s*(-?)%\}")
_SKIPPED_BLOCKS = re.compile(r"\{%-?\s*(docs|materialization)\b.*?\{%-?\s*end\1\s*-?%\}", re.DOTALL)
_SNAPSHOT_TAGS = re.compile(r"\{%-?\s*(?:snapshot\s+\w+|endsnapshot)\s*-?%\}")
_MAX_CACHED_ENVS = 8


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """Why a template did not render: `line` in the template, a one-line message."""

    line: int
    message: str


class TemplateFailed(Exception):
    def __init__(self, problem: TemplateProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def make_env(undefined: type[Undefined]) -> Environment:
    return Environment(
        undefined=undefined,
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        autoescape=False,
        keep_trailing_newline=True,
    )


def dbt_source(text: str) -> str:
    """dbt's extra block syntax turned into plain jinja2 (line count unchanged)."""
    text = _SKIPPED_BLOCKS.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    text = _SNAPSHOT_TAGS.sub("", text)
    text = _TEST_BLOCK.sub(lambda m: f"{{%{m.group(1)} macro test_{m.group(2)}(", text)
    return _END_TEST.sub(lambda m: f"{{%{m.group(1)} endmacro {m.group(2)}%}}", text)


def macro_names(text: str) -> list[str]:
    return _MACRO_DEF.findall(dbt_source(text))


class MacroSet:
    """A project's macro files compiled once; `bind(globals)` gives callables that
    render each macro with one model's names (refs, this, config ...)."""

    def __init__(self, env: Environment, files: tuple[tuple[str, str], ...]) -> None:
        self.env = env
        self.templates: list[tuple[Template, list[str]]] = []
        self.names: list[str] = []
        # A macro file that does not compile only breaks the models that call it.
        self.problems: list[str] = []
        for path, text in files:
            source = dbt_source(text)
            try:
                template = env.from_string(source)
            except jinja2.TemplateSyntaxError as exc:
                self.problems.append(f"{path}, line {exc.lineno}: {exc.message}")
                continue
            names = _MACRO_DEF.findall(source)
            self.templates.append((template, names))
            self.names.extend(names)

    def bind(self, base: dict[str, Any]) -> dict[str, Callable[..., Any]]:
        """Macro name → callable. Names are resolved lazily so that macros in one
        file can call macros defined in another, in any order."""
        registry: dict[str, Any] = {}
        lazy = {name: _LazyMacro(registry, name) for name in self.names}
        names = {**base, **lazy}
        for template, defined in self.templates:
            module = template.make_module(vars=names)
            for name in defined:
                macro = getattr(module, name, None)
                if macro is not None:
                    registry[name] = macro
        return lazy


class _LazyMacro:
    __slots__ = ("name", "registry")

    def __init__(self, registry: dict[str, Any], name: str) -> None:
        self.registry = registry
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        macro = self.registry.get(self.name)
        if macro is None:
            raise RenderError(f"macro '{self.name}' could not be compiled")
        try:
            return macro(*args, **kwargs)
        except MacroReturn as ret:
            return ret.value


class EnvCache:
    """Environments and compiled macro sets per context fingerprint, kept in the worker
    across files (building them is most of the cost of a first render)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Environment, MacroSet]] = {}

    def get(
        self, fingerprint: str, files: tuple[tuple[str, str], ...], undefined: type[Undefined]
    ) -> tuple[Environment, MacroSet]:
        hit = self._items.get(fingerprint)
        if hit is not None:
            return hit
        env = make_env(undefined)
        macros = MacroSet(env, files)
        if len(self._items) >= _MAX_CACHED_ENVS:
            self._items.pop(next(iter(self._items)))
        self._items[fingerprint] = (env, macros)
        return env, macros


def compile_template(env: Environment, text: str) -> Template:
    try:
        template = env.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateFailed(TemplateProblem(exc.lineno or 1, exc.message or str(exc))) from None
    return template


def render(template: Template, names: Mapping[str, Any]) -> str:
    try:
        return template.render(**names)
    except MacroReturn as ret:
        return "" if ret.value is None else str(ret.value)
    except TemplateFailed:
        raise
    except RecursionError:
        raise TemplateFailed(TemplateProblem(1, "macro recursion too deep")) from None
    except Exception as exc:  # template code can raise anything; it is the file's problem
        raise TemplateFailed(TemplateProblem(_template_line(exc), _message(exc))) from None


def _message(exc: BaseException) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined name: {exc.message}"
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if isinstance(exc, RenderError):
        return first
    return f"{type(exc).__name__}: {first}"


def _template_line(exc: BaseException) -> int:
    """The line of the model's template the error came from: jinja2 rewrites
    tracebacks so that template frames carry template line numbers."""
    tb = exc.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
            break
        tb = tb.tb_next
    return line or 1


def strict_env() -> Environment:
    """Generic (non-dbt) Jinja: an unknown name is an error naming it."""
    return make_env(StrictUndefined)
