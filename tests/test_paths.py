from __future__ import annotations

import os
from pathlib import Path

import pytest

from lineaged.config import RootSettings
from lineaged.paths import RootMatcher, glob_to_regex


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.sql", "a.sql", True),
        ("**/*.sql", "x/y/a.sql", True),
        ("**/*.sql", "a.sqlx", False),
        ("*.sql", "x/a.sql", False),
        ("**/tmp/**", "a/tmp/b/c.sql", True),
        ("**/tmp/**", "a/tmpx/c.sql", False),
        ("models/?.sql", "models/a.sql", True),
        ("models/?.sql", "models/ab.sql", False),
    ],
)
def test_glob(pattern: str, path: str, expected: bool) -> None:
    assert bool(glob_to_regex(pattern).match(path)) is expected


def test_matcher_applies_include_and_exclude_and_skips_symlinks(tmp_path: Path) -> None:
    (tmp_path / "m" / "tmp").mkdir(parents=True)
    (tmp_path / "m" / "a.sql").write_text("select 1")
    (tmp_path / "m" / "tmp" / "b.sql").write_text("select 1")
    (tmp_path / "m" / "c.txt").write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.sql"
    outside.write_text("select 1")
    os.symlink(outside, tmp_path / "m" / "link.sql")
    m = RootMatcher(RootSettings("r", tmp_path, exclude=("**/tmp/**",)))
    assert sorted(rel for rel, _ in m.walk()) == ["m/a.sql"]
    ref = m.ref_for(str(tmp_path / "m" / "a.sql"))
    assert ref is not None and ref.id == "r:m/a.sql"
    assert m.ref_for(str(tmp_path / "m" / "tmp" / "b.sql")) is None
    assert m.ref_for("/elsewhere/a.sql") is None
    assert m.abs_path(ref) == str(tmp_path / "m" / "a.sql")
