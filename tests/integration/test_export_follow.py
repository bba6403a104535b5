"""`lineaged export --openlineage --url URL --follow` against the real Neo4j and a local
OpenLineage receiver: every file's event arrives, an edit's new event follows, a
refused event is dead-lettered and re-driven by `--resend-dead-letters`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from ol_receiver import Receiver

from .configs import neo4j_env
from .examples_graph import LINEAGED, PROJECT_DIR, run_lineaged


def _wait(predicate: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def _scan(server: Any, root: Path, state: Path) -> None:
    config = state / "config.toml"
    config.write_text(
        f'[[roots]]\nname = "shop"\npath = "{root}"\ndialect = "postgres"\n\n'
        f'[pool]\nworkers = 1\n\n[state]\ndir = "{state}"\n\n[service]\nmetrics_address = "0"\n'
    )
    proc = run_lineaged(neo4j_env(server), "scan", "-c", str(config), "--progress", "never")
    assert proc.returncode == 0, proc.stderr


def test_follow_streams_new_lineage_and_dead_letters(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "shop"
    shutil.copytree(PROJECT_DIR / "examples" / "shop", root)
    state = tmp_path / "state"
    state.mkdir()
    _scan(neo4j_server, root, state)
    receiver = Receiver()
    receiver.script = [503, 400]  # one retried, one refused (dead-lettered)
    dead = tmp_path / "ol_dead.jsonl"
    env = {**os.environ, **neo4j_env(neo4j_server)}
    env.pop("LINEAGED_CONFIG", None)
    follower = subprocess.Popen(
        [
            str(LINEAGED),
            "export",
            "--openlineage",
            "--url",
            receiver.url,
            "--follow",
            "--poll-s",
            "0.3",
            "--state",
            str(tmp_path / "follow.json"),
            "--dead-letters",
            str(dead),
            "--namespace",
            "shop",
        ],
        env=env,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.sql"))
        _wait(
            lambda: (
                len(receiver.events) + (dead.exists() and len(dead.read_text().splitlines()))
                == len(files)
            )
        )
        (letter,) = [json.loads(line) for line in dead.read_text().splitlines()]
        assert letter["status"] == 400
        names = [*sorted(e["job"]["name"] for e in receiver.events), letter["event"]["job"]["name"]]
        assert sorted(names) == [f"shop:{f}" for f in files]
        before = len(receiver.events)
        # An edit reaches the receiver as a new run of the same job.
        mart = root / "marts" / "fct_orders.sql"
        mart.write_text(mart.read_text() + "\n-- edited\n")
        _scan(neo4j_server, root, state)
        _wait(lambda: len(receiver.events) > before)
        new = receiver.events[before:]
        assert [e["job"]["name"] for e in new] == ["shop:marts/fct_orders.sql"]
        old_runs = {e["run"]["runId"] for e in receiver.events[:before]} | {
            letter["event"]["run"]["runId"]
        }
        assert new[0]["run"]["runId"] not in old_runs
    finally:
        follower.send_signal(signal.SIGTERM)
        _out, err = follower.communicate(timeout=60)
        receiver.close()
    # A follower stopped by SIGTERM exits 0 and says what it did.
    assert follower.returncode == 0, err
    assert "1 dead-lettered" in err and "1 retries" in err
    # Re-drive the dead letter once the receiver accepts it.
    again = Receiver()
    try:
        proc = run_lineaged(
            neo4j_env(neo4j_server),
            "export",
            "--openlineage",
            "--url",
            again.url,
            "--resend-dead-letters",
            "--dead-letters",
            str(dead),
        )
        assert proc.returncode == 0, proc.stderr
        assert [e["job"]["name"] for e in again.events] == [letter["event"]["job"]["name"]]
        assert not dead.exists() or dead.read_text() == ""
    finally:
        again.close()
