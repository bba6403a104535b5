"""What a worker needs to render one file before extracting it, and the function that
does both (the daemon's workers and `lineaged extract` call the same one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from lineaged.model import ColumnEdge, FileLineage, IndirectEdge, StatementLineage

JINJA = "jinja"
DBT = "dbt"


@dataclass(frozen=True, slots=True)
class DbtSettings:
    """A dbt root: where the project is and what `target.*` and `var()` answer.
    `fingerprint` names the project's state; a worker loads the project from
    `project_dir` once per fingerprint."""

    project_dir: str
    fingerprint: str
    target_name: str = "dev"
    database: str = ""
    schema: str = "main"
    adapter: str = "postgres"


@dataclass(frozen=True, slots=True)
class RenderJob:
    """`path` is the file's POSIX path relative to its root; `target` the table its
    final bare SELECT writes (from a path-target rule), if any; `template` is "",
    "jinja" or "dbt"; `project_path` the path relative to the dbt project."""

    path: str
    target: str | None = None
    template: str = ""
    vars: tuple[tuple[str, object], ...] = ()
    dbt: DbtSettings | None = None
    project_path: str = ""
    problem: str | None = None  # the root's dbt project could not be loaded


def extract_file(
    data: bytes,
    dialect: str,
    schema: Mapping[str, Mapping[str, str]] | None,
    default_catalog: str | None,
    default_schema: str | None,
    job: RenderJob | None = None,
    *,
    catalog: Mapping[str, Mapping[str, str]] | None = None,
) -> FileLineage:
    from lineaged.extract import EXTRACTOR_VERSION, extract

    def run(text: str | bytes, target: str | None, extra: Mapping | None = None) -> FileLineage:
        return extract(
            text,
            dialect,
            {**(schema or {}), **extra} if extra else schema,
            default_catalog=default_catalog,
            default_schema=default_schema,
            catalog=catalog,
            target=target,
        )

    if job is None or not job.template:
        return _no_template_names(run(data, job.target if job else None))
    text = data.decode("utf-8-sig", errors="replace")
    if job.template == JINJA:
        return _jinja(job, text, dialect, EXTRACTOR_VERSION, run)
    return _dbt(job, text, dialect, EXTRACTOR_VERSION, run)


def _jinja(job: RenderJob, text: str, dialect: str, version: str, run) -> FileLineage:
    from lineaged.render.generic import render_jinja
    from lineaged.render.templates import TemplateFailed

    try:
        sql = render_jinja(text, dict(job.vars))
    except TemplateFailed as failed:
        return _template_error(job.path, failed.problem, dialect, version)
    if not sql.strip():
        return _nothing(job.path, dialect, version)
    return _no_template_names(run(sql, job.target))


def _dbt(job: RenderJob, text: str, dialect: str, version: str, run) -> FileLineage:
    from lineaged.render.dbt import render_dbt_file
    from lineaged.render.dbt_context import DbtTarget
    from lineaged.render.dbt_project import DbtProjectError
    from lineaged.render.worker_projects import project_for

    if job.dbt is None:
        return FileLineage(dialect, version, (), f"dbt project not loaded: {job.problem}")
    try:
        project = project_for(job.dbt.project_dir, job.dbt.fingerprint)
    except (DbtProjectError, OSError) as exc:
        return FileLineage(dialect, version, (), f"dbt project not loaded: {exc}")
    s = job.dbt
    target = DbtTarget(s.target_name, s.database, s.schema, s.adapter)
    rendering = render_dbt_file(
        project, job.project_path, text, target, dict(job.vars), s.fingerprint
    )
    if rendering.problem is not None:
        return _template_error(job.project_path, rendering.problem, dialect, version)
    if rendering.resource_type == "context":
        return FileLineage(dialect, version)  # a macro or YAML file: context, not SQL
    if not any(sql.strip() for sql in rendering.passes):
        return _nothing(job.project_path, dialect, version)
    seeds = {relation: dict.fromkeys(columns, "TEXT") for relation, columns in rendering.schema}
    results = [run(sql, rendering.target, seeds) for sql in rendering.passes]
    lineage = results[0]
    if not lineage.statements and lineage.error is None:
        return _nothing(job.project_path, dialect, version)  # comments only
    if len(results) > 1:
        lineage = merge_incremental(lineage, results[1], rendering.target)
    if rendering.unresolved:
        lineage = _mark_unresolved(lineage, rendering.unresolved)
    return _no_template_names(lineage)


def merge_incremental(full: FileLineage, inc: FileLineage, target: str | None) -> FileLineage:
    """The full-refresh rendering, plus what the incremental branch's write reads that
    the full refresh does not (its filter on `{{ this }}`, the model's own previous
    state, is not upstream lineage and is left out)."""
    main = _write_index(full)
    other = _write_index(inc)
    if main is None or other is None:
        return full
    a, b = full.statements[main], inc.statements[other]
    own = set(a.targets)

    def upstream(sources: tuple[str, ...]) -> set[str]:
        return {s for s in sources if not any(s.startswith(t + ".") for t in own)}

    sources = sorted(set(a.sources) | (set(b.sources) - own))
    edges: dict[tuple[str, str], set[str]] = {}
    for edge in (*a.columns, *b.columns):
        if srcs := upstream(edge.sources):
            edges.setdefault((edge.target, edge.transform), set()).update(srcs)
    wide: dict[str, set[str]] = {}
    for ind in (*a.indirect, *b.indirect):
        if srcs := upstream(ind.sources):
            wide.setdefault(ind.transform, set()).update(srcs)
    merged = replace(
        a,
        sources=tuple(sources),
        columns=tuple(
            ColumnEdge(t, tuple(sorted(srcs)), transform)
            for (t, transform), srcs in sorted(edges.items())
        ),
        target_columns=tuple(sorted(set(a.target_columns) | set(b.target_columns))),
        indirect=tuple(
            IndirectEdge(tuple(sorted(srcs)), transform) for transform, srcs in sorted(wide.items())
        ),
    )
    return replace(full, statements=(*full.statements[:main], merged, *full.statements[main + 1 :]))


def _write_index(lineage: FileLineage) -> int | None:
    for i in range(len(lineage.statements) - 1, -1, -1):
        if lineage.statements[i].targets:
            return i
    return None


def _mark_unresolved(lineage: FileLineage, names: tuple[str, ...]) -> FileLineage:
    """Macros we could not render are named in `unresolved` (as `macro:name`) on the
    statement that writes (or the last one)."""
    if not lineage.statements:
        return lineage
    i = _write_index(lineage)
    i = len(lineage.statements) - 1 if i is None else i
    s = lineage.statements[i]
    marked = replace(s, unresolved=tuple(sorted({*s.unresolved, *(f"macro:{n}" for n in names)})))
    return replace(
        lineage, statements=(*lineage.statements[:i], marked, *lineage.statements[i + 1 :])
    )


def _template_error(path: str, problem, dialect: str, version: str) -> FileLineage:
    message = f"line {problem.line}, column 1: template {Path(path).name}: {problem.message}"
    return FileLineage(
        dialect, version, (StatementLineage(0, problem.line, "other", error=message),)
    )


def _nothing(path: str, dialect: str, version: str) -> FileLineage:
    return FileLineage(
        dialect, version, (), f"template {path} renders to no SQL: nothing to extract"
    )


def _no_template_names(lineage: FileLineage) -> FileLineage:
    """Template text never becomes a table name: a statement that would read or write
    a name with `{`/`}` (a template in a root not configured for templates) carries an
    error instead of its tables."""
    fixed = []
    changed = False
    for s in lineage.statements:
        names = (*s.targets, *s.sources, *s.temp_targets)
        if any("{" in n or "}" in n for n in names):
            changed = True
            s = StatementLineage(
                s.index,
                s.line,
                s.kind,
                error=s.error
                or f"line {s.line}, column 1: template syntax in a table name (set"
                ' template = "jinja" or use a dbt project for this root)',
            )
        fixed.append(s)
    return replace(lineage, statements=tuple(fixed)) if changed else lineage
