"""File modes against the real daemon process and Neo4j: a directory and a file the
daemon may not read when it starts are ingested the moment a chmod opens them (not at
the next rescan: the periodic one is off here), and the opened directory is watched.

The daemon runs without the two capabilities that let root ignore file modes
(tests/unprivileged.py), so this holds as root, as in CI, and as any other user."""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path
from typing import Any

from unprivileged import drop_file_mode_override

from .graphs import query, wait_for
from .test_daemon_process import (
    DaemonProcess,
    Notifications,
    free_port,
    notify,
    sql,
    write_config,
)

__all__ = ["notify"]  # the fixture, shared with test_daemon_process


async def files(graph: Any) -> dict[str, tuple[str | None, str | None]]:
    rows = await query(graph, "MATCH (f:File) RETURN f.path AS path, f.sha256 AS sha, f.error AS e")
    return {r["path"]: (r["sha"], r["e"]) for r in rows}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_permission_fix_is_ingested_at_once_and_the_directory_watched(
    graph: Any, neo4j_server: Any, tmp_path: Path, notify: Notifications
) -> None:
    root = tmp_path / "sql"
    (root / "closed" / "sub").mkdir(parents=True)
    (root / "open.sql").write_text(sql("open", "x"))
    (root / "closed" / "b.sql").write_text(sql("b", "y"))
    (root / "closed" / "sub" / "c.sql").write_text(sql("c", "z"))
    locked = root / "locked.sql"
    locked.write_text(sql("locked", "w"))
    locked.chmod(0)
    (root / "closed").chmod(0)
    cfg, log = tmp_path / "config.toml", tmp_path / "daemon.log"
    no_rescans = "[watch]\nrescan_interval_s = 0\n"
    write_config(cfg, root, tmp_path / "state", free_port(), extra=no_rescans)
    daemon = DaemonProcess(cfg, neo4j_server, notify, log, preexec_fn=drop_file_mode_override())
    try:
        notify.wait("READY", "1")
        start = await wait_for(
            lambda: files(graph), lambda f: {"open.sql", "locked.sql"} <= set(f), timeout=60
        )
        # The modes apply to the daemon: the directory is skipped, the file unreadable.
        assert set(start) == {"open.sql", "locked.sql"}
        assert start["locked.sql"] == (None, "cannot read file: Permission denied")
        assert '"event": "directory_unreadable"' in daemon.logs()

        (root / "closed").chmod(0o755)
        locked.chmod(0o644)
        want = {
            "open.sql": sha(root / "open.sql"),
            "locked.sql": sha(locked),
            "closed/b.sql": sha(root / "closed" / "b.sql"),
            "closed/sub/c.sql": sha(root / "closed" / "sub" / "c.sql"),
        }
        opened = await wait_for(
            lambda: files(graph),
            lambda f: {p: s for p, (s, _e) in f.items()} == want,
            timeout=60,
        )
        assert all(error is None for _sha, error in opened.values())

        # Watched now: an edit below the opened directory arrives like any other.
        (root / "closed" / "sub" / "c.sql").write_text(sql("c", "edited"))
        edited = sha(root / "closed" / "sub" / "c.sql")
        await wait_for(
            lambda: files(graph),
            lambda f: f.get("closed/sub/c.sql", (None,))[0] == edited,
            timeout=60,
        )
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(60) == 0, daemon.logs()[-3000:]
    finally:
        (root / "closed").chmod(0o755)
        daemon.kill()
