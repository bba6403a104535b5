"""Which dialect and defaults `lineaged extract` uses for each file.

With a config (`-c config.toml`, $LINEAGED_CONFIG or ./config.toml), a file under a
root is extracted as the daemon would extract it: that root's dialect, defaults and
schema file, and a directory argument lists only the files the root's include /
exclude globs take. `--dialect` (and the default flags) override for files outside
every root; without either, the dialect is postgres and stderr says so once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lineaged.config import RootSettings, Settings
    from lineaged.paths import RootMatcher

FALLBACK_DIALECT = "postgres"


@dataclass(frozen=True, slots=True)
class FileOptions:
    """How to extract one file: the root it belongs to ('' for none) and its options."""

    root: str
    dialect: str
    default_catalog: str | None
    default_schema: str | None
    schema_file: str | None


def options_for(
    path: Path,
    matchers: list[RootMatcher],
    *,
    dialect: str | None,
    default_catalog: str | None,
    default_schema: str | None,
    schema_file: str | None,
) -> FileOptions:
    matcher = _root_of(path, matchers)
    if matcher is None:
        return FileOptions(
            "", dialect or FALLBACK_DIALECT, default_catalog, default_schema, schema_file
        )
    root: RootSettings = matcher.root
    return FileOptions(
        root.name,
        root.dialect,
        default_catalog or root.default_catalog or None,
        default_schema or root.default_schema or None,
        schema_file or root.schema_file or None,
    )


def _root_of(path: Path, matchers: list[RootMatcher]) -> RootMatcher | None:
    absolute = os.path.abspath(path)
    # The deepest root wins when roots nest.
    found = [m for m in matchers if absolute.startswith(m.base + os.sep)]
    return max(found, key=lambda m: len(m.base)) if found else None


def sql_files(directory: Path, matchers: list[RootMatcher]) -> list[Path]:
    """SQL files under `directory`: `*.sql` in any case (`*.SQL` too), and under a
    configured root only those its globs take."""
    out = []
    for p in sorted(directory.rglob("*")):
        if not p.is_file():
            continue
        matcher = _root_of(p, matchers)
        if matcher is not None:
            rel = matcher.relative(os.path.abspath(p))
            if rel is not None and matcher.matches(rel):
                out.append(p)
        elif p.suffix.lower() == ".sql":
            out.append(p)
    return out


def matchers(settings: Settings | None) -> list[RootMatcher]:
    if settings is None:
        return []
    # Imported here: lineaged.paths brings structlog (and asyncio with it), which
    # `lineaged --help` and an `extract` without a config do not need.
    from lineaged.paths import RootMatcher

    return [RootMatcher(r) for r in settings.roots]
