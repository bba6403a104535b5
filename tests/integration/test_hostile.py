"""Hostile entries in a watched root, against the real daemon process and Neo4j: a FIFO
named *.sql, a link to /dev/zero, a huge sparse file, a binary file. Each is dealt with
in one line; the files around them are ingested; SIGTERM still stops the daemon."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from .configs import config_text
from .graphs import query, wait_for
from .test_daemon_process import DaemonProcess, Notifications, free_port, notify, sql

__all__ = ["notify"]  # the fixture, shared with test_daemon_process


def write_config(path: Path, root: Path, state: Path, root_extra: str = "") -> None:
    sections = f"""
[batch]
debounce_ms = 20

[service]
metrics_address = "127.0.0.1:{free_port()}"
drain_deadline_s = 20
"""
    path.write_text(config_text(root, state, workers=1, extra=sections, root_extra=root_extra))


async def file_errors(graph: Any) -> dict[str, str | None]:
    rows = await query(graph, "MATCH (f:File) RETURN f.path AS path, f.error AS error")
    return {r["path"]: r["error"] for r in rows}


async def test_special_files_in_a_live_batch_neither_block_nor_lose_the_batch(
    graph: Any, neo4j_server: Any, tmp_path: Path, notify: Notifications
) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    (root / "first.sql").write_text(sql("first", "x"))
    cfg = tmp_path / "config.toml"
    write_config(cfg, root, tmp_path / "state", "follow_symlinks = true")
    daemon = DaemonProcess(cfg, neo4j_server, notify, tmp_path / "daemon.log")
    try:
        notify.wait("READY", "1")
        await wait_for(lambda: file_errors(graph), lambda f: "first.sql" in f, timeout=60)
        # One debounce window: the hostile entries and the good files share a batch.
        os.mkfifo(root / "pipe.sql")
        os.symlink("/dev/zero", root / "zero.sql")
        with (root / "huge.sql").open("wb") as fh:
            fh.truncate(64 << 30)
        (root / "binary.sql").write_bytes(bytes(range(256)) * 64)
        (root / "a.sql").write_text(sql("a", "y"))
        (root / "b.sql").write_text(sql("b", "z"))
        files = await wait_for(
            lambda: file_errors(graph),
            lambda f: {"a.sql", "b.sql", "huge.sql", "binary.sql"} <= set(f),
            timeout=60,
        )
        assert files["a.sql"] is None and files["b.sql"] is None
        assert files["huge.sql"].startswith("file too large: 68719476736 bytes")
        assert files["binary.sql"] is not None
        assert "pipe.sql" not in files and "zero.sql" not in files
        # The batch's files are not left "busy": a later edit still goes through.
        (root / "a.sql").write_text(sql("a2", "y"))
        await wait_for(
            lambda: query(graph, "MATCH (t:Table {name: 'mart.a2'}) RETURN t.name AS n"),
            lambda rows: len(rows) == 1,
        )
        logs = daemon.logs()
        assert "not a regular file (FIFO)" in logs
        assert "not a regular file (character device)" in logs
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(60) == 0, daemon.logs()[-3000:]
    finally:
        daemon.kill()


async def test_status_errors_lists_every_failing_file_not_one_per_minute(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from .configs import neo4j_env

    root = tmp_path / "sql"
    root.mkdir()
    for i in range(40):  # the same error text on every one: the log names one a minute
        (root / f"bin{i:02}.sql").write_bytes(b"\x00\x01binary" * 50)
    (root / "half.sql").write_text("INSERT INTO a.b SELECT c FROM d;\nSELECT FROM (;\n")
    (root / "fine.sql").write_text(sql("fine", "x"))
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(root, tmp_path / "state", workers=1))
    env = {**os.environ, **neo4j_env(neo4j_server)}
    env.pop("NOTIFY_SOCKET", None)
    lineaged = [sys.executable, "-m", "lineaged.cli"]
    scan = subprocess.run(
        [*lineaged, "scan", "-c", str(cfg), "--progress", "never", "--log-format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert scan.returncode == 1, scan.stderr[-2000:]  # files with errors
    assert scan.stderr.count('"file_has_errors"') < 41  # rate-limited in the log
    listed = subprocess.run(
        [*lineaged, "status", "--errors", "-c", str(cfg), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 1, listed.stderr
    errors = {e["file"]: e for e in json.loads(listed.stdout)}
    assert sorted(errors) == sorted([f"wh:bin{i:02}.sql" for i in range(40)] + ["wh:half.sql"])
    assert all("binary" in errors[f"wh:bin{i:02}.sql"]["error"] for i in range(40))
    half = errors["wh:half.sql"]
    assert half["error"] is None and half["failed_statements"] == 1
    assert half["first_statement_error"].startswith("line 2")
