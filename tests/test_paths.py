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


def test_symlink_policy_in_walk(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.sql").write_text("select 1")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.sql").write_text("select 1")
    os.symlink(root / "real" / "a.sql", root / "in_link.sql")  # inside: followed
    os.symlink(outside / "o.sql", root / "out_link.sql")  # outside: not by default
    os.symlink(outside, root / "out_dir")
    os.symlink(root / "real", root / "in_dir")  # already walked under its real path
    os.symlink(root, root / "real" / "loop")  # a cycle
    os.symlink(tmp_path / "missing.sql", root / "dangling.sql")

    default = RootMatcher(RootSettings("r", root))
    assert sorted(rel for rel, _ in default.walk()) == ["in_link.sql", "real/a.sql"]
    assert default.link_allowed(str(root / "in_link.sql"))
    assert not default.link_allowed(str(root / "out_link.sql"))
    assert not default.link_allowed(str(root / "out_dir" / "o.sql"))

    follow = RootMatcher(RootSettings("r", root, follow_symlinks=True))
    walked = sorted(rel for rel, _ in follow.walk())
    # In-root directory links are not descended: files count under their real path.
    assert walked == ["in_link.sql", "out_dir/o.sql", "out_link.sql", "real/a.sql"]
    st = dict(follow.walk())["out_link.sql"]
    assert st.st_ino == (outside / "o.sql").stat().st_ino, "stat must be the target's"


def test_critical_globs(tmp_path: Path) -> None:
    from lineaged.model import Priority

    m = RootMatcher(RootSettings("r", tmp_path, critical=("finance/**", "**/*_sla.sql")))
    assert m.priority_for("finance/x.sql", Priority.LOW) is Priority.CRITICAL
    assert m.priority_for("a/b_sla.sql", Priority.HIGH) is Priority.CRITICAL
    assert m.priority_for("a/b.sql", Priority.HIGH) is Priority.HIGH


def test_directory_link_loops_outside_the_root_are_walked_once_and_logged_once(
    tmp_path: Path,
) -> None:
    import structlog

    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    os.symlink(".", root / "sub" / "link")  # in-root: never descended
    os.symlink(".", root / "sub" / "link2")
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "o.sql").write_text("select 1")
    os.symlink(outside, outside / "deep" / "back")  # a loop outside the root
    os.symlink(outside, root / "out")
    m = RootMatcher(RootSettings("r", root, follow_symlinks=True))
    with structlog.testing.capture_logs() as logs:
        assert [rel for rel, _ in m.walk()] == ["out/deep/o.sql"]
        assert [rel for rel, _ in m.walk()] == ["out/deep/o.sql"]  # a rescan
    loops = [e for e in logs if e["event"] == "directory_loop_skipped"]
    assert [e["path"] for e in loops] == [str(root / "out" / "deep" / "back")]


_WALK_AS_NOBODY = """
import json, os, sys
import structlog
from lineaged.config import RootSettings
from lineaged.paths import RootMatcher
if os.geteuid() == 0:  # after the imports: the interpreter lives where nobody may read
    os.setgid(65534)
    os.setuid(65534)
m = RootMatcher(RootSettings("r", __import__("pathlib").Path(sys.argv[1])))
with structlog.testing.capture_logs() as logs:
    walked = [sorted(rel for rel, _ in m.walk()) for _ in range(2)]
print(json.dumps({"walked": walked, "logs": logs}))
"""


def test_an_unreadable_directory_is_logged_once_not_skipped_silently() -> None:
    import json
    import shutil
    import subprocess
    import sys
    import tempfile

    # As an unprivileged user (root reads everything): a tree outside pytest's
    # private temp directory, one directory in it closed to everyone.
    top = Path(tempfile.mkdtemp(prefix="lineaged-perm-"))
    try:
        top.chmod(0o755)
        (top / "open").mkdir(mode=0o755)
        (top / "open" / "a.sql").write_text("select 1")
        (top / "open" / "a.sql").chmod(0o644)
        (top / "closed").mkdir(mode=0o755)
        (top / "closed" / "b.sql").write_text("select 1")
        (top / "closed").chmod(0)
        proc = subprocess.run(
            [sys.executable, "-c", _WALK_AS_NOBODY, str(top)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        (top / "closed").chmod(0o755)
        shutil.rmtree(top)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["walked"] == [["open/a.sql"], ["open/a.sql"]]
    unreadable = [e for e in out["logs"] if e["event"] == "directory_unreadable"]
    assert [e["path"] for e in unreadable] == [str(top / "closed")]  # once, not per walk
    assert "Permission denied" in unreadable[0]["error"]
