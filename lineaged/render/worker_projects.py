"""dbt projects as loaded in a worker, one per fingerprint (the daemon sends the
project's directory and fingerprint, not the project: that would be pickled with
every file)."""

from __future__ import annotations

from pathlib import Path

from lineaged.render.dbt_project import DbtProject, load_project

_MAX = 4
_loaded: dict[tuple[str, str], DbtProject] = {}


def project_for(project_dir: str, fingerprint: str) -> DbtProject:
    key = (project_dir, fingerprint)
    project = _loaded.get(key)
    if project is None:
        project = load_project(Path(project_dir))
        if len(_loaded) >= _MAX:
            _loaded.pop(next(iter(_loaded)))
        _loaded[key] = project
    return project
