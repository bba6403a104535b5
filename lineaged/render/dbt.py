"""Render one file of a dbt project the way dbt compiles it.

A model renders to its SELECT and writes its relation (database.schema.alias, by
dbt's rules); an incremental model renders twice, as a full refresh and as an
incremental run, so that its lineage includes what either branch reads. Snapshots and
seeds are tables too (a seed becomes `CREATE TABLE relation (header columns)`);
analyses and data tests render but write nothing; macro files have no SQL of their own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from lineaged.render.dbt_context import (
    UNRESOLVED_PREFIX,
    DbtTarget,
    ModelContext,
    Relation,
    UnresolvedCall,
)
from lineaged.render.dbt_project import DbtProject, Node
from lineaged.render.templates import (
    EnvCache,
    TemplateFailed,
    TemplateProblem,
    compile_template,
    dbt_source,
    render,
)

_MARKER = re.compile(re.escape(UNRESOLVED_PREFIX) + r"(\w+)")
_CALL = re.escape(UNRESOLVED_PREFIX) + r"\w+\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)"
_GAP = r"(?:\s|--[^\n]*\n|/\*.*?\*/)*"
# An unresolved macro where a query goes (a CTE or subquery body, the whole model):
# read it as a table function, so that the CTE stays a CTE and no table is invented.
_QUERY_POSITION = re.compile(
    rf"((?:\bas|\bfrom|\bjoin|^){_GAP}\(?{_GAP})({_CALL})", re.IGNORECASE | re.DOTALL
)
_ENVS = EnvCache()


@dataclass(frozen=True, slots=True)
class Rendering:
    """What a file renders to. `passes` are SQL texts (one, or two for an incremental
    model: full refresh first); `target` the relation the file writes, if any;
    `unresolved` the macros that were not available (package not installed)."""

    passes: tuple[str, ...] = ()
    target: str | None = None
    unresolved: tuple[str, ...] = ()
    problem: TemplateProblem | None = None
    resource_type: str | None = None
    # Columns of the seeds the file reads (their CSV headers), as an extraction schema.
    schema: tuple[tuple[str, tuple[str, ...]], ...] = ()


def render_dbt_file(
    project: DbtProject,
    path: str,
    text: str,
    target: DbtTarget,
    root_vars: dict[str, Any],
    fingerprint: str,
) -> Rendering:
    """`path` is relative to the project directory."""
    kind = project.resource_type_of(path)
    if kind == "macro" or path.endswith((".yml", ".yaml", ".json")):
        return Rendering(resource_type="context")  # what other files render with
    node = project.node_for(path)
    if kind == "seed":
        return _seed(project, node, target, root_vars) if node else Rendering(resource_type=kind)
    compiled = _from_manifest(project, path, node)
    if compiled is not None:
        return compiled
    if node is None:
        # A .sql file outside every dbt path: render it, it writes nothing.
        node = Node(path.rsplit("/", 1)[-1].removesuffix(".sql"), "analysis", path)
    env, macros = _ENVS.get(fingerprint, project.macro_files, UnresolvedCall)
    try:
        template = compile_template(env, dbt_source(text))
        ctx = ModelContext(project, node, target, root_vars)
        passes = [_render_pass(ctx, template, macros)]
        if ctx.is_incremental_model():
            incremental = ModelContext(project, node, target, root_vars, incremental=True)
            passes.append(_render_pass(incremental, template, macros))
        relation = ctx.this() if node.resource_type in ("model", "snapshot") else None
    except TemplateFailed as failed:
        return Rendering(problem=failed.problem, resource_type=node.resource_type)
    unresolved = sorted({_marker_name(m) for p in passes for m in _MARKER.findall(p)})
    return Rendering(
        passes=tuple(passes),
        target=relation.render() if relation is not None else None,
        unresolved=tuple(unresolved),
        resource_type=node.resource_type,
        schema=tuple(sorted(ctx.seed_columns.items())),
    )


def _from_manifest(project: DbtProject, path: str, node: Node | None) -> Rendering | None:
    """dbt's own compilation is authoritative when the manifest is newer than the
    file (it was compiled from this text, with the real warehouse and packages)."""
    entry = project.compiled_for(path)
    if entry is None:
        return None
    try:
        mtime = os.stat(os.path.join(project.root, path)).st_mtime_ns
    except OSError:
        return None
    if project.manifest_mtime_ns <= mtime:
        return None
    code, relation = entry
    writes = node is not None and node.resource_type in ("model", "snapshot")
    target = relation.replace('"', "").replace("`", "") if relation and writes else None
    kind = node.resource_type if node is not None else "analysis"
    return Rendering(passes=(code,), target=target, resource_type=kind)


def _render_pass(ctx: ModelContext, template: Any, macros: Any) -> str:
    names = ctx.globals()
    ctx.macros = macros.bind(names)
    names.update(ctx.macros)
    ctx.render_text = lambda text: render(compile_template(macros.env, text), names)
    sql = render(template, names)
    if UNRESOLVED_PREFIX in sql:
        sql = _QUERY_POSITION.sub(_as_table_function, sql)
    return sql


def _as_table_function(m: re.Match[str]) -> str:
    head = m.group(1)
    if re.search(r"\b(from|join)" + _GAP + r"$", head, re.IGNORECASE | re.DOTALL):
        return m.group(0)  # already in a table position
    return f"{head}select * from {m.group(2)}"


def _marker_name(raw: str) -> str:
    return raw.replace("__", ".")


def _seed(
    project: DbtProject, node: Node, target: DbtTarget, root_vars: dict[str, Any]
) -> Rendering:
    ctx = ModelContext(project, node, target, root_vars)
    relation: Relation = ctx.relation_of(node)
    columns = ", ".join(f"{_ident(c)} TEXT" for c in node.columns)
    sql = f"CREATE TABLE {relation.render()} ({columns})" if columns else ""
    return Rendering(passes=(sql,) if sql else (), target=relation.render(), resource_type="seed")


def _ident(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f'"{name}"'
