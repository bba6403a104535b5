"""Settings → stage options, written once.

Each function returns the keyword options of one stage, taken from `Settings`. The
daemon passes them to the stage's constructor at start-up and to the stage's
`configure()` on SIGHUP, so start-up and reload can never disagree about what a setting
means. Options only a constructor takes (they need a restart) are listed in reload.py.
"""

from __future__ import annotations

from typing import Any

from lineaged.config import Settings


def live_batcher_options(s: Settings) -> dict[str, Any]:
    return {
        "debounce_s": s.debounce_s,
        "max_batch": s.batch.max_batch,
        "max_latency_s": s.batch.max_latency_ms / 1000,
        # Realtime: a save goes as soon as the file is complete, without the window.
        "release_when_complete": s.realtime,
    }


def backfill_batcher_options(s: Settings) -> dict[str, Any]:
    # Backfill events are already a known set: no debounce, full batches, and a short
    # latency bound so that a partial last batch does not wait.
    return {"debounce_s": 0.0, "max_batch": s.batch.max_batch, "max_latency_s": 1.0}


def pool_options(s: Settings) -> dict[str, Any]:
    return {
        "task_timeout_s": s.pool.task_timeout_s,
        "recycle_after": s.pool.recycle_after,
        "memory_limit_bytes": int(s.pool.memory_limit_mb * 1024 * 1024),
    }


def writer_options(s: Settings) -> dict[str, Any]:
    w = s.writer
    return {
        "rows_per_tx": w.rows_per_tx,
        "backfill_tx_s": w.backfill_tx_ms / 1000,
        "slow_tx_s": w.slow_tx_s,
        "backoff_initial_s": w.backoff_initial_s,
        "backoff_max_s": w.backoff_max_s,
    }


def cache_options(s: Settings) -> dict[str, Any]:
    c = s.cache
    return {
        "max_entries": c.max_entries,
        "max_bytes": int(c.max_mb * 1024 * 1024),
        "ttl_days": c.ttl_days,
    }
