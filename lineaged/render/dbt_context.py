"""The names a dbt model sees while it renders: ref, source, this, var, env_var,
config, is_incremental, target, adapter, return, the project's macros, and a few of
dbt's own cross-database macros.

Semantics follow dbt-core's at parse/compile time without a database connection:
`execute` is False (so `run_query` paths render their fallback) and `adapter`
answers only what does not need a warehouse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Undefined
from markupsafe import Markup

from lineaged.render.dbt_project import DbtProject, Node

_MISSING = object()
_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# Marker a call to a macro we do not have renders to: a function call the extractor
# parses (its arguments keep their column lineage) and `unresolved` names.
UNRESOLVED_PREFIX = "lineaged_unresolved_macro__"


class RenderError(Exception):
    """A template that cannot be rendered the way dbt would (undefined ref/var, ...)."""


class MacroReturn(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


@dataclass(frozen=True, slots=True)
class DbtTarget:
    """`target.*`: the warehouse a project would be built into (from the root's
    settings; no profiles.yml needed)."""

    name: str = "dev"
    database: str = ""
    schema: str = "main"
    type: str = "postgres"

    def as_object(self) -> _Attrs:
        return _Attrs(
            name=self.name,
            database=self.database or None,
            schema=self.schema,
            type=self.type,
            profile_name="lineaged",
            threads=1,
            target_name=self.name,
        )


class _Attrs(dict):
    """A dict whose keys are also attributes (`target.schema`, `target['schema']`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True, slots=True)
class Relation:
    database: str | None
    schema: str | None
    identifier: str

    @property
    def name(self) -> str:
        return self.identifier

    @property
    def table(self) -> str:
        return self.identifier

    def render(self) -> str:
        return ".".join(_quote(p) for p in (self.database, self.schema, self.identifier) if p)

    def include(self, database: bool = True, schema: bool = True, identifier: bool = True):
        return Relation(
            self.database if database else None,
            self.schema if schema else None,
            self.identifier if identifier else "",
        )

    def __str__(self) -> str:
        return self.render()

    def __html__(self) -> str:
        return self.render()


def _quote(part: str) -> str:
    return part if _SIMPLE.match(part) else '"' + part.replace('"', '""') + '"'


class UnresolvedCall(Undefined):
    """An unknown name. Printed bare it is an error (it could be a table or a column:
    guessing would put template text into the graph); called, it is a macro from a
    package that is not installed and renders as a marker function call."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return type(self)(name=f"{self._undefined_name}.{name}", hint=self._undefined_hint)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return unresolved_call(str(self._undefined_name), args, kwargs)

    def __str__(self) -> str:
        raise RenderError(f"'{self._undefined_name}' is undefined")


class UnresolvedValue(Markup):
    """What an unresolved macro returns: SQL text (a marker call) that is empty when a
    template iterates it (`| list`, `for r in ...`), as a missing result would be."""

    def __iter__(self):  # type: ignore[override]
        return iter(())

    def __bool__(self) -> bool:
        return True


def unresolved_call(name: str, args: tuple, kwargs: dict) -> Markup:
    parts = [_sql_arg(a) for a in args] + [_sql_arg(v) for v in kwargs.values()]
    marker = UNRESOLVED_PREFIX + re.sub(r"\W", "__", name)
    return UnresolvedValue(f"{marker}({', '.join(p for p in parts if p)})")


_COLUMN_LIKE = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")


def _sql_arg(value: Any) -> str:
    """Arguments that look like column names (how macros mostly take columns) keep
    their lineage through the marker; anything else (relations, SQL snippets, text,
    flags) is left out rather than read as columns."""
    if isinstance(value, UnresolvedValue):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(p for p in (_sql_arg(v) for v in value) if p)
    if isinstance(value, str) and _COLUMN_LIKE.match(value) and not isinstance(value, Relation):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


@dataclass
class ModelContext:
    """Everything one render of one node needs; `config` collects the node's own
    `config()` calls as they run."""

    project: DbtProject
    node: Node
    target: DbtTarget
    root_vars: dict[str, Any]
    incremental: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    macros: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # Seeds this render `ref`s: relation -> CSV header columns (a schema for `*`).
    seed_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Renders Jinja inside YAML values (`schema: "{{ env_var('RAW', 'raw') }}"`).
    render_text: Callable[[str], str] = str

    # -- relations ------------------------------------------------------------------

    def relation_of(self, node: Node, extra: dict[str, Any] | None = None) -> Relation:
        cfg = node.merged_config() | (extra or {})
        database = self._generate("generate_database_name", cfg.get("database"), node)
        schema = self._generate("generate_schema_name", cfg.get("schema"), node)
        if node.resource_type == "snapshot" and cfg.get("target_schema"):
            # Snapshots configured the older way name their schema/database verbatim.
            schema = cfg["target_schema"]
            database = cfg.get("target_database") or database
        default_alias = f"{node.name}_v{node.version}" if node.version else node.name
        alias = cfg.get("alias") or cfg.get("identifier")
        if "generate_alias_name" in self.macros:
            alias = self._call_macro("generate_alias_name", alias, self._node_obj(node))
        return Relation(
            str(database).strip() or None if database else None,
            str(schema).strip() or None if schema else None,
            str(alias or default_alias).strip(),
        )

    def _generate(self, macro: str, custom: Any, node: Node) -> Any:
        if macro in self.macros:
            value = self._call_macro(macro, custom, self._node_obj(node))
            if value is None or UNRESOLVED_PREFIX not in str(value):
                return value
            # The project's override calls something we do not have: dbt's default
            # is a better guess than a name made of template text.
        if macro == "generate_database_name":
            return custom or self.target.database or None
        return self.default_schema_name(custom)

    def default_schema_name(self, custom: Any, node: Any = None) -> str:
        """dbt's default generate_schema_name: the target schema, suffixed by a custom one."""
        if custom is None:
            return self.target.schema
        return f"{self.target.schema}_{str(custom).strip()}"

    def _call_macro(self, name: str, *args: Any) -> Any:
        result = self.macros[name](*args)
        return str(result).strip() if result is not None else None

    def _node_obj(self, node: Node) -> _Attrs:
        return _Attrs(
            name=node.name,
            resource_type=node.resource_type,
            original_file_path=node.path,
            path=node.path,
            package_name=self.project.name,
            config=_Attrs(node.merged_config() | self.config_if(node)),
            fqn=[self.project.name, *node.path.split("/")[1:-1], node.name],
        )

    def config_if(self, node: Node) -> dict[str, Any]:
        return self.config if node is self.node else {}

    # -- functions the template calls ------------------------------------------------

    def this(self) -> Relation:
        return self.relation_of(self.node, self.config)

    def ref(self, *args: Any, **kwargs: Any) -> Relation:
        version = kwargs.get("v", kwargs.get("version"))
        names = [a for a in args if isinstance(a, str)]
        if not names or len(names) > 2:
            raise RenderError(f"ref() takes a model name (and a package), got {args!r}")
        name = names[-1]
        package = names[0] if len(names) == 2 else None
        if package is not None and package != self.project.name:
            return Relation(None, None, f"{UNRESOLVED_PREFIX}ref__{package}__{name}")
        node = self._find_node(name, None if version is None else str(version))
        relation = self.relation_of(node)
        if node.resource_type == "seed" and node.columns:
            self.seed_columns[relation.render()] = node.columns
        return relation

    def _find_node(self, name: str, version: str | None) -> Node:
        candidates = [
            n
            for n in self.project.nodes
            if n.name == name and n.resource_type in ("model", "seed", "snapshot")
        ]
        if version is not None:
            candidates = [n for n in candidates if n.version == version]
        if not candidates:
            what = f"{name!r} (version {version})" if version else repr(name)
            raise RenderError(f"ref({what}): no model, seed or snapshot of that name")
        # Without a version, dbt picks the latest version of a versioned model.
        return max(candidates, key=lambda n: int(n.version or 0))

    def source(self, source_name: str, table_name: str) -> Relation:
        for s in self.project.sources:
            if s.source == source_name and s.table == table_name:
                database = self._yaml_value(s.database) or self.target.database or None
                return Relation(
                    database, self._yaml_value(s.schema), self._yaml_value(s.identifier)
                )
        raise RenderError(f"source({source_name!r}, {table_name!r}): not in any sources YAML")

    def _yaml_value(self, value: str | None) -> str | None:
        if value is None or "{" not in value:
            return value
        return self.render_text(value).strip() or None

    def var(self, name: str, default: Any = _MISSING) -> Any:
        if name in self.root_vars:
            return self.root_vars[name]
        project_vars = dict(self.project.vars)
        if name in project_vars:
            return project_vars[name]
        if default is _MISSING:
            raise RenderError(f"required var '{name}' not found (no default, not configured)")
        return default

    @staticmethod
    def env_var(name: str, default: Any = _MISSING) -> Any:
        if name in os.environ:
            return os.environ[name]
        if default is _MISSING:
            raise RenderError(f"env_var('{name}'): not set and no default")
        return default

    def config_fn(self, *args: Any, **kwargs: Any) -> str:
        if args and isinstance(args[0], dict):
            kwargs = {**args[0], **kwargs}
        self.config.update(kwargs)
        return ""

    def is_incremental_model(self) -> bool:
        return (self.node.merged_config() | self.config).get("materialized") == "incremental"

    def is_incremental(self) -> bool:
        return self.incremental and self.is_incremental_model()

    # -- the namespace ----------------------------------------------------------------

    def globals(self) -> dict[str, Any]:
        config = _ConfigFn(self)
        return {
            "ref": self.ref,
            "source": self.source,
            "var": self.var,
            "env_var": self.env_var,
            "config": config,
            "is_incremental": self.is_incremental,
            "this": _LazyThis(self),
            "target": self.target.as_object(),
            "model": self._node_obj(self.node),
            "execute": False,
            "flags": _Attrs(FULL_REFRESH=False, WHICH="compile"),
            "project_name": self.project.name,
            "adapter": _Adapter(self),
            "return": _return,
            "log": lambda *a, **k: "",
            "print": lambda *a, **k: "",
            "run_query": lambda *a, **k: None,
            "statement": _statement,
            "load_result": lambda *a, **k: None,
            "exceptions": _Attrs(
                raise_compiler_error=_raise, warn=lambda *a, **k: "", raise_not_implemented=_raise
            ),
            "modules": _modules(),
            "fromjson": _fromjson,
            "tojson": _tojson,
            "zip": zip,
            "set": set,
            "builtins": _Attrs(ref=self.ref, source=self.source, config=config),
            "dbt": _DbtNamespace(self),
            "dbt_utils": _PackageNamespace("dbt_utils", {**_BUILTINS, **_DBT_UTILS}),
            "graph": _Attrs(nodes={}, sources={}, macros={}),
            "generate_schema_name_for_env": self.generate_schema_name_for_env,
            "default__generate_schema_name": self.default_schema_name,
            "invocation_id": "00000000-0000-0000-0000-000000000000",
            "run_started_at": _run_started_at(),
        } | {name: fn for name, fn in _BUILTINS.items()}

    def generate_schema_name_for_env(self, custom: Any, node: Any = None) -> str:
        """dbt's: the custom schema as is in the `prod` target, else the target's."""
        if self.target.name == "prod" and custom is not None:
            return str(custom).strip()
        return self.target.schema


class _ConfigFn:
    """`config(...)` and `config.get('key', default)` / `config.require('key')`."""

    def __init__(self, ctx: ModelContext) -> None:
        self._ctx = ctx

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return self._ctx.config_fn(*args, **kwargs)

    def get(self, key: str, default: Any = None) -> Any:
        return (self._ctx.node.merged_config() | self._ctx.config).get(key, default)

    def require(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise RenderError(f"config '{key}' is required")
        return value


class _LazyThis:
    """`this` follows the node's config even when config() comes later in the file."""

    def __init__(self, ctx: ModelContext) -> None:
        self._ctx = ctx

    def _rel(self) -> Relation:
        return self._ctx.this()

    def __str__(self) -> str:
        return str(self._rel())

    def __html__(self) -> str:
        return str(self._rel())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rel(), name)


class _Adapter:
    def __init__(self, ctx: ModelContext) -> None:
        self._ctx = ctx

    def dispatch(self, name: str, macro_namespace: str | None = None) -> Callable[..., Any]:
        macros = self._ctx.macros
        for candidate in (f"{self._ctx.target.type}__{name}", f"default__{name}"):
            if candidate in macros:
                return macros[candidate]
        builtin = getattr(_DbtNamespace(self._ctx), name, None)
        if builtin is not None and not isinstance(builtin, Undefined):
            return builtin
        full = f"{macro_namespace}.{name}" if macro_namespace else name
        return lambda *a, **k: unresolved_call(full, a, k)

    def quote(self, identifier: str) -> str:
        return f'"{identifier}"'

    def get_relation(self, *args: Any, **kwargs: Any) -> None:
        return None

    def get_columns_in_relation(self, *args: Any, **kwargs: Any) -> list:
        return []

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: unresolved_call(f"adapter.{name}", a, k)


class _DbtNamespace:
    """dbt's own cross-database macros (their `default__` implementations), enough
    for the common ones; anything else is an unresolved marker."""

    def __init__(self, ctx: ModelContext) -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._ctx.macros:
            return self._ctx.macros[name]
        impl = _BUILTINS.get(name)
        if impl is not None:
            return impl
        return lambda *a, **k: unresolved_call(f"dbt.{name}", a, k)


class _PackageNamespace:
    """A package that is not installed: the macros we know how to render, and an
    unresolved marker for the rest."""

    def __init__(self, name: str, known: dict[str, Callable[..., Any]]) -> None:
        self._name = name
        self._known = known

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        impl = self._known.get(name)
        if impl is not None:
            return impl
        return lambda *a, **k: unresolved_call(f"{self._name}.{name}", a, k)


def _s(value: Any) -> str:
    return str(value)


_BUILTINS: dict[str, Callable[..., Any]] = {
    "date_trunc": lambda datepart, date: Markup(f"date_trunc('{datepart}', {date})"),
    "dateadd": lambda datepart, interval, from_date_or_timestamp: Markup(
        f"dateadd({datepart}, {interval}, {from_date_or_timestamp})"
    ),
    "datediff": lambda first_date, second_date, datepart: Markup(
        f"datediff({datepart}, {first_date}, {second_date})"
    ),
    "concat": lambda fields: Markup(f"concat({', '.join(_s(f) for f in fields)})"),
    "hash": lambda field: Markup(f"md5(cast({field} as varchar))"),
    "safe_cast": lambda field, type: Markup(f"cast({field} as {type})"),
    "cast": lambda field, type: Markup(f"cast({field} as {type})"),
    "string_literal": lambda value: Markup(f"'{value}'"),
    "current_timestamp": lambda: Markup("current_timestamp"),
    "type_string": lambda: Markup("varchar"),
    "type_int": lambda: Markup("int"),
    "type_bigint": lambda: Markup("bigint"),
    "type_float": lambda: Markup("float"),
    "type_numeric": lambda: Markup("numeric(28,6)"),
    "type_timestamp": lambda: Markup("timestamp"),
    "type_boolean": lambda: Markup("boolean"),
    "split_part": lambda string_text, delimiter_text, part_number: Markup(
        f"split_part({string_text}, {delimiter_text}, {part_number})"
    ),
    "any_value": lambda expression: Markup(f"any_value({expression})"),
    "bool_or": lambda expression: Markup(f"bool_or({expression})"),
    "listagg": lambda measure, delimiter_text="','", order_by_clause=None, limit_num=None: Markup(
        f"listagg({measure}, {delimiter_text})"
    ),
    "escape_single_quotes": lambda expression: str(expression).replace("'", "''"),
    "last_day": lambda date, datepart: Markup(f"last_day({date})"),
}


# dbt_utils macros whose output does not need a warehouse, rendered as dbt_utils
# renders them (other package macros stay unresolved markers).
_DBT_UTILS: dict[str, Callable[..., Any]] = {
    "group_by": lambda n: Markup("group by " + ", ".join(str(i) for i in range(1, int(n) + 1))),
    "star": lambda *a, **k: Markup("*"),
    "surrogate_key": lambda *fields: Markup(_surrogate(fields)),
    "generate_surrogate_key": lambda field_list: Markup(_surrogate(field_list)),
}


def _surrogate(fields: Any) -> str:
    if len(fields) == 1 and isinstance(fields[0], (list, tuple)):
        fields = fields[0]
    parts = [f"coalesce(cast({f} as varchar), '_dbt_utils_surrogate_key_null_')" for f in fields]
    separator = ", '-', "
    return f"md5(concat({separator.join(parts)}))"


def _return(value: Any = None) -> None:
    raise MacroReturn(value)


def _raise(message: Any = "", *args: Any) -> None:
    raise RenderError(f"compiler error raised by the template: {message}")


def _statement(*args: Any, **kwargs: Any) -> str:
    return ""


def _fromjson(text: str, default: Any = None) -> Any:
    import json

    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


def _tojson(value: Any, default: Any = None) -> str:
    import json

    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return default


def _modules() -> _Attrs:
    import datetime
    import itertools
    import re as re_module

    return _Attrs(datetime=datetime, re=re_module, itertools=itertools)


def _run_started_at() -> Any:
    import datetime

    # Fixed, so a render is a function of its inputs (the cache key relies on that).
    return datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
