"""One root's rendering set-up, built once per configuration load (and again when a
file it depends on changes): the path-target rule, the template kind, the dbt
project, and what part of a file's render context goes into its cache key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineaged.render.deps import ProjectIndex, affected
from lineaged.render.job import DBT, JINJA, DbtSettings, RenderJob
from lineaged.render.path_target import PathTargetRule

# dbt adapter type (`target.type`, the `adapter.dispatch` prefix) per sqlglot dialect.
ADAPTERS = {
    "tsql": "sqlserver",
    "fabric": "fabric",
    "postgres": "postgres",
    "redshift": "redshift",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "duckdb": "duckdb",
    "databricks": "databricks",
    "spark": "spark",
    "trino": "trino",
    "athena": "athena",
    "clickhouse": "clickhouse",
    "mysql": "mysql",
    "oracle": "oracle",
}
TEMPLATES = ("", "none", JINJA, DBT)


@dataclass(frozen=True, slots=True)
class RootRender:
    rule: PathTargetRule | None = None
    template: str = ""  # "" (plain SQL), "jinja" or "dbt"
    vars: tuple[tuple[str, Any], ...] = ()
    dbt: DbtSettings | None = None
    root_in_project: str = ""  # the root's path relative to the dbt project directory
    problem: str | None = None  # why the dbt project could not be loaded
    index: ProjectIndex | None = field(default=None, compare=False, repr=False)
    settings: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def build(cls, settings: Any) -> RootRender:
        """From a RootSettings. Raises TargetRuleError (a ValueError) for a malformed
        rule; a dbt project that cannot be read is recorded in `problem` (every file
        of the root then says why), it never stops the daemon."""
        target = getattr(settings, "target", "")
        rule = PathTargetRule.build(target, settings.target_pattern) if target else None
        variables = tuple(sorted(dict(getattr(settings, "vars", {}) or {}).items()))
        template = getattr(settings, "template", "")
        if template == JINJA:
            return cls(rule, JINJA, variables, settings=settings)
        if template == "none":
            return cls(rule, "", variables, settings=settings)
        return cls._dbt_or_plain(settings, rule, variables, explicit=template == DBT)

    @classmethod
    def _dbt_or_plain(
        cls,
        settings: Any,
        rule: PathTargetRule | None,
        variables: tuple[tuple[str, Any], ...],
        *,
        explicit: bool,
    ) -> RootRender:
        from lineaged.render.dbt_project import DbtProjectError, find_project_dir, load_project

        root = Path(settings.path)
        project_dir = find_project_dir(root)
        if project_dir is None:
            if explicit:
                problem = f"no dbt_project.yml at or above {root}"
                return cls(rule, DBT, variables, problem=problem, settings=settings)
            return cls(rule, "", variables, settings=settings)
        inside = root.resolve().relative_to(project_dir).as_posix()
        inside = "" if inside == "." else inside
        try:
            project = load_project(project_dir)
        except (DbtProjectError, OSError) as exc:
            return cls(rule, DBT, variables, None, inside, str(exc), settings=settings)
        fingerprint = project_fingerprint(project.fingerprints, variables, settings)
        dbt = DbtSettings(
            str(project_dir),
            fingerprint,
            target_name=getattr(settings, "dbt_target", "dev") or "dev",
            database=settings.default_catalog,
            schema=settings.default_schema or "main",
            adapter=ADAPTERS.get(settings.dialect, settings.dialect),
        )
        index = ProjectIndex(project, variables)
        return cls(rule, DBT, variables, dbt, inside, None, index, settings)

    @property
    def renders_nothing(self) -> bool:
        """No file of the root is rendered (no path rule, no template): every file's
        `version_suffix` is ""."""
        return self.rule is None and not self.template

    def job_for(self, path: str) -> RenderJob | None:
        if self.rule is None and not self.template:
            return None
        target = self.rule.target_for(path) if self.rule is not None else None
        project_path = self.project_path(path)
        return RenderJob(
            path, target, self.template, self.vars, self.dbt, project_path, self.problem
        )

    def refreshed(self) -> RootRender:
        """The same root re-read from disk (after a macro/YAML/project file changed)."""
        return RootRender.build(self.settings)

    def project_path(self, path: str) -> str:
        return f"{self.root_in_project}/{path}" if self.root_in_project else path

    def root_path(self, project_path: str) -> str | None:
        if not self.root_in_project:
            return project_path
        prefix = self.root_in_project + "/"
        return project_path[len(prefix) :] if project_path.startswith(prefix) else None

    def is_context_file(self, path: str) -> bool:
        """A file other files' rendering depends on (dbt: dbt_project.yml, properties
        and sources YAML, macro files)."""
        if self.template != DBT:
            return False
        rel = self.project_path(path)
        if rel == "dbt_project.yml" or rel.endswith((".yml", ".yaml")):
            return True
        if self.index is not None and rel == self.index.project.manifest_path:
            return True
        if rel.endswith(".csv") and self.index is not None:
            return rel in self.index.by_path  # a seed: its header is its readers' schema
        return self.index is not None and rel in self.index.uses

    def affected_by(self, before: RootRender, path: str) -> list[str]:
        """Root-relative files whose rendering `path` (a changed context file) can
        change, judged on the project before and after the change."""
        indexes = [r.index for r in (before, self) if r.index is not None]
        rel = self.project_path(path)
        paths = (self.root_path(p) for p in affected(indexes, rel))
        return sorted(p for p in paths if p is not None and p != path)

    def version_suffix(self, path: str) -> str:
        """Appended to the extractor version recorded for the file: the graph then
        knows which rendering context its lineage came from."""
        part = self.cache_key_part(path)
        if not part:
            return ""
        return "+r" + hashlib.sha256(part.encode()).hexdigest()[:12]

    def cache_key_part(self, path: str) -> str:
        """Everything besides the file's bytes that its rendering depends on: two files
        with the same content but different targets must not share a cache entry, and
        a changed macro or YAML file must not be served a stale rendering."""
        job = self.job_for(path)
        if job is None:
            return ""
        parts = [f"target={job.target or ''}", f"template={job.template}"]
        if job.template == JINJA:
            parts.append(f"vars={job.vars!r}")
        if job.dbt is not None and self.index is not None:
            parts.append(f"dbt={self.index.file_key(job.project_path)}:{job.project_path}")
        elif self.problem:
            parts.append(f"problem={self.problem}")
        return "|".join(parts)


def project_fingerprint(
    files: tuple[tuple[str, str], ...], variables: tuple[tuple[str, Any], ...], settings: Any
) -> str:
    text = repr(
        (
            files,
            variables,
            settings.dialect,
            settings.default_catalog,
            settings.default_schema,
            getattr(settings, "dbt_target", ""),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]
