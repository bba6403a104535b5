"""Which root a path given to `lineaged extract` belongs to, so that the command renders
and extracts it exactly as the daemon would: the root of `-c config.toml` containing
it, else an implicit root from the flags (a dbt project above the path is found by
itself)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from lineaged.config import RootSettings
from lineaged.render.dbt_project import find_project_dir
from lineaged.render.root import RootRender


class RootForPaths:
    """Root settings and render set-up per path, built once per root."""

    def __init__(
        self,
        roots: tuple[RootSettings, ...],
        implicit: dict[str, Any],
        root_dir: str | None = None,
    ) -> None:
        self.roots = roots
        self.implicit = implicit  # RootSettings fields from the flags
        self.root_dir = root_dir  # --root
        self._renders: dict[Path, RootRender] = {}

    def resolve(self, path: Path, given: Path) -> tuple[RootSettings, str]:
        """(root settings, path relative to that root) for a file `path` found under
        the command-line argument `given`."""
        full = path.resolve()
        for root in self.roots:
            if full.is_relative_to(root.path):
                return root, full.relative_to(root.path).as_posix()
        base = self._implicit_base(full, given)
        root = RootSettings("extract", base, **self.implicit)
        return root, full.relative_to(base).as_posix()

    def render(self, root: RootSettings) -> RootRender:
        render = self._renders.get(root.path)
        if render is None:
            render = self._renders[root.path] = RootRender.build(root)
        return render

    def _implicit_base(self, full: Path, given: Path) -> Path:
        """A dbt project directory above the path, else `--root`, else the directory
        argument itself (or the file's directory)."""
        if self.root_dir is not None:
            return Path(self.root_dir).resolve()
        if self.implicit.get("template") not in ("jinja", "none"):
            project = find_project_dir(full.parent)
            if project is not None:
                return project
        given = given.resolve()
        return given if given.is_dir() else given.parent


def implicit_settings(args: Any) -> dict[str, Any]:
    """RootSettings fields for paths outside every configured root, from the flags."""
    fields: dict[str, Any] = {
        "dialect": args.dialect or "postgres",
        "default_catalog": args.default_catalog or "",
        "default_schema": args.default_schema or "",
        "target": args.target_rule or "",
        "target_pattern": args.target_pattern or "",
        "template": args.template or "",
        "vars": dict(_pair(v) for v in args.var or ()),
    }
    known = {f.name for f in dataclasses.fields(RootSettings)}
    return {k: v for k, v in fields.items() if k in known}


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--var expects key=value, got {text!r}")
    return key.strip(), value
