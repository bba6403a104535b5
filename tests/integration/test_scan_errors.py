"""`lineaged scan` names the files that carry errors, on a cold and on a warm scan (the
warm one parses nothing, so its count and list come from the graph)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .configs import config_text, neo4j_env


def scan(cfg: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lineaged.cli", "scan", "-c", str(cfg), "--progress", "never"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_cold_and_warm_scan_list_files_with_errors(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    (root / "half.sql").write_text("INSERT INTO a.b SELECT c FROM d;\nSELECT FROM (;\n")
    (root / "fine.sql").write_text("INSERT INTO a.e SELECT f FROM d;\n")
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(root, tmp_path / "state", workers=1))
    env = {**os.environ, **neo4j_env(neo4j_server), "LINEAGED_LOG_LEVEL": "error"}
    env.pop("NOTIFY_SOCKET", None)
    for run in ("cold", "warm"):
        done = scan(cfg, env)
        assert done.returncode == 1, (run, done.stderr[-2000:])
        lines = done.stdout.rstrip().splitlines()
        assert lines[-1].startswith("scan: 2 files"), (run, lines)
        assert "1 with errors" in lines[-1], (run, lines)
        assert lines[-2].startswith("  wh:half.sql: line 2, column "), (run, lines)
    assert " 2 unchanged" in lines[-1]  # the warm scan parsed nothing
