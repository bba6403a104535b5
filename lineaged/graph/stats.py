"""What the writer has done and is doing, as plain counters another stage can export.

`WriterStats.snapshot()` is the one read-only view (for /metrics, `status`, sd_notify):
counters only ever grow, gauges say what is happening now.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class WriterStats:
    transactions: int = 0  # committed
    attempts: int = 0  # transactions started, committed or not
    rows: int = 0
    files: int = 0
    retries: int = 0  # transient failures waited out (writes and reads)
    splits: int = 0
    dead_letters: int = 0
    slow_transactions: int = 0
    orphan_sweeps: int = 0  # start-up sweeps run (GraphWriter.sweep_orphans)
    orphan_sweeps_skipped: int = 0  # starts that needed none (orphan_policy.py)
    write_seconds: float = 0.0  # wall time inside committed write transactions
    # Of write_seconds: per query name (graph/queries.py) and "commit".
    query_seconds: dict[str, float] = field(default_factory=dict)
    sessions_opened: int = 0
    sessions_closed: int = 0
    tx_in_flight: int = 0  # write transactions holding a slot right now
    tx_waiting: int = 0  # write transactions waiting for a slot
    tx_in_flight_peak: int = 0  # high-water mark of tx_in_flight
    waiting_since: float | None = None  # monotonic time Neo4j became unreachable
    last_error: str | None = None
    last_error_at: float | None = None  # wall-clock time
    started_at: float = field(default_factory=time.monotonic)

    @property
    def state(self) -> str:
        """`waiting_for_neo4j` while transient errors hold writes back (back-pressure)."""
        return "waiting_for_neo4j" if self.waiting_since is not None else "ok"

    @property
    def sessions_open(self) -> int:
        return self.sessions_opened - self.sessions_closed

    @property
    def rows_per_s(self) -> float:
        """Rows per second of write-transaction time (throughput while writing)."""
        return self.rows / self.write_seconds if self.write_seconds > 0 else 0.0

    def record_error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = time.time()

    def snapshot(self, pool: dict[str, int] | None = None) -> dict[str, Any]:
        waited = time.monotonic() - self.waiting_since if self.waiting_since is not None else 0.0
        return {
            "state": self.state,
            "waiting_s": round(waited, 3),
            "transactions": self.transactions,
            "attempts": self.attempts,
            "rows": self.rows,
            "files": self.files,
            "retries": self.retries,
            "splits": self.splits,
            "dead_letters": self.dead_letters,
            "slow_transactions": self.slow_transactions,
            "orphan_sweeps": self.orphan_sweeps,
            "orphan_sweeps_skipped": self.orphan_sweeps_skipped,
            "write_seconds": round(self.write_seconds, 6),
            "rows_per_s": round(self.rows_per_s, 1),
            "tx_in_flight": self.tx_in_flight,
            "tx_waiting": self.tx_waiting,
            "tx_in_flight_peak": self.tx_in_flight_peak,
            "sessions_open": self.sessions_open,
            "pool_in_use": None if pool is None else pool["in_use"],
            "pool_idle": None if pool is None else pool["idle"],
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


def driver_pool_stats(driver: object) -> dict[str, int] | None:
    """Connections in use / idle in the driver's pool, or None if it cannot be read.

    The neo4j driver has no public pool statistics, so this reads its private pool
    (`driver._pool.connections`: address → deque of connections with `in_use`)
    defensively: any change in the driver's internals yields None, never an error.
    """
    try:
        pool = driver._pool  # type: ignore[attr-defined]
        connections = [c for dq in list(pool.connections.values()) for c in list(dq)]
        in_use = sum(1 for c in connections if bool(c.in_use))
    except Exception:
        return None
    return {"in_use": in_use, "idle": len(connections) - in_use}
