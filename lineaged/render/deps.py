"""What a dbt file's rendering depends on, found statically from the project.

Two uses: a per-file render key (part of the parse-cache key and of the version the
graph records for the file, so a stale rendering is never served nor kept), and the
files a changed macro, YAML file, `dbt_project.yml` or model config can affect (those
are re-extracted, the rest of the project is not). The analysis over-approximates:
a macro counts as used when its name appears in the text (or, for
`adapter.dispatch('x')`, when `x` does), transitively through other macros.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Any

from lineaged.render.dbt_project import PROJECT_FILE, DbtProject, Node

# Macros dbt calls for every relation (ours and every ref's): always a dependency.
RELATION_MACROS = ("generate_schema_name", "generate_alias_name", "generate_database_name")


class ProjectIndex:
    """Look-ups over one project, built once (a project has thousands of nodes)."""

    def __init__(self, project: DbtProject, root_vars: Any = ()) -> None:
        self.project = project
        self.root_vars = root_vars
        self.by_name: dict[str, list[Node]] = {}
        self.by_path: dict[str, Node] = {}
        for node in project.nodes:
            self.by_path.setdefault(node.path, node)
            if node.resource_type != "analysis":
                self.by_name.setdefault(node.name, []).append(node)
        self.defines: dict[str, str] = {}
        self.uses: dict[str, tuple[str, ...]] = {}
        for file, names, used in project.macro_index:
            for name in names:
                self.defines.setdefault(name, file)
            self.uses[file] = used
        self.prints = dict(project.fingerprints)

    def file_key(self, path: str) -> str:
        """A short hash of every value the rendering of `path` (project-relative)
        reads."""
        p = self.project
        node = self.by_path.get(path)
        if path in self.uses or path.endswith((".yml", ".yaml")):
            return "context"  # a macro or YAML file renders nothing of its own
        env = self.env_values()
        if node is None:
            every = sorted(self.prints.get(f, "") for f in self.uses)
            return _hash(("file", path, p.vars, self.root_vars, every, env))
        parts: list[Any] = [
            ("self", node.config, node.file_config, node.version),
            ("vars", p.vars, self.root_vars),
            ("env", env),
        ]
        for name in node.refs:
            refs = [
                (n.config, n.file_config, n.version, n.columns) for n in self.by_name.get(name, [])
            ]
            parts.append(("ref", name, refs))
        for pair in node.source_refs:
            parts.append(("source", [s for s in p.sources if (s.source, s.table) == pair]))
        files = sorted(self.macro_files(node))
        parts.append(("macros", [(f, self.prints.get(f, "")) for f in files]))
        compiled = p.compiled_for(path)
        if compiled is not None:
            parts.append(("manifest", compiled, p.manifest_mtime_ns))
        return _hash(parts)

    def env_values(self) -> tuple[tuple[str, str], ...]:
        """Digests of the env_var() values the project reads (unset = empty), so a
        restart with a changed environment re-renders instead of serving a stale
        rendering; digests because a value may be a credential."""
        return tuple(
            (name, hashlib.sha256(os.environ.get(name, "\0unset").encode()).hexdigest()[:16])
            for name in self.project.env_vars
        )

    def depends_on_files(self, node: Node) -> set[str]:
        """Project files whose change can change how `node` renders."""
        files = {PROJECT_FILE, node.path}
        if node.config_file:
            files.add(node.config_file)
        for name in node.refs:
            for other in self.by_name.get(name, []):
                files.add(other.path)
                if other.config_file:
                    files.add(other.config_file)
        for pair in node.source_refs:
            files.update(
                s.file for s in self.project.sources if (s.source, s.table) == pair and s.file
            )
        files.update(self.macro_files(node))
        if self.project.compiled_for(node.path) is not None:
            files.add(self.project.manifest_path)
        return files

    def macro_files(self, node: Node) -> set[str]:
        """Files defining the macros `node` may call, transitively."""
        todo = [*node.macros_used, *(m for m in RELATION_MACROS if m in self.defines)]
        seen: set[str] = set()
        files: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen or name not in self.defines:
                continue
            seen.add(name)
            file = self.defines[name]
            if file not in files:
                files.add(file)
                todo.extend(self.uses[file])
        return files


def affected(indexes: Iterable[ProjectIndex], changed: str) -> set[str]:
    """Node files (project-relative) that `changed` can affect, in any of `indexes`
    (the project before and after the change: a macro added or removed counts)."""
    out: set[str] = set()
    for index in indexes:
        for node in index.project.nodes:
            if node.path != changed and changed in index.depends_on_files(node):
                out.add(node.path)
    return out


def _hash(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]
