"""SIGHUP reload against a running daemon (real Neo4j, worker processes, cache): every
changed setting is either applied to the running stage or named as needing a restart,
with the running value kept."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from lineaged.config import load_settings
from lineaged.daemon import Daemon

from .configs import config_text, neo4j_env

NO_METRICS = """
[service]
metrics_address = "0"
"""

BEFORE = (
    NO_METRICS
    + """
[writer]
rows_per_tx = 5000
max_concurrent_tx = 2
slow_tx_s = 5.0

[cache]
enabled = true
max_entries = 1000
ttl_days = 30.0
"""
)

AFTER = (
    NO_METRICS
    + """
[writer]
rows_per_tx = 123
max_concurrent_tx = 5
slow_tx_s = 0.5

[cache]
enabled = false
max_entries = 777
ttl_days = 2.0
"""
)


async def test_reload_applies_writer_and_cache_settings_or_names_the_restart(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    (root / "a.sql").write_text("INSERT INTO mart.a SELECT x FROM raw.a")
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(root, tmp_path / "state", workers=1, extra=BEFORE))

    def load() -> Any:
        return load_settings(cfg, env=neo4j_env(neo4j_server))

    daemon = Daemon(load(), reload_settings=load)
    task = asyncio.create_task(daemon.run())
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait({task, ready}, timeout=300, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # the start-up failed: show why
    assert daemon.ready.is_set(), "not ready after 300 s"
    try:
        assert daemon.writer is not None and daemon.cache is not None
        cfg.write_text(config_text(root, tmp_path / "state", workers=1, extra=AFTER))
        with capture_logs() as logs:
            assert await daemon.reload()

        # Applied to the running stages...
        assert daemon.writer.rows_per_tx == 123 and daemon.writer.slow_tx_s == 0.5
        assert daemon.cache.max_entries == 777
        assert daemon.cache.ttl_s == 2.0 * 86400
        # ... and named where the running value stays until a restart.
        assert daemon.writer.max_concurrency == 2 and daemon.cache is not None
        assert daemon.settings.writer.max_concurrent_tx == 2
        assert daemon.settings.cache.enabled is True
        events = {e["event"]: e for e in logs}
        assert set(events["reload_needs_restart"]["keys"]) == {
            "writer.max_concurrent_tx",
            "cache.enabled",
        }
        assert set(events["reload_applied"]["keys"]) == {
            "writer.rows_per_tx",
            "writer.slow_tx_s",
            "cache.max_entries",
            "cache.ttl_days",
        }
    finally:
        daemon.request_stop("test")
        assert await asyncio.wait_for(task, 60) == 0
