"""One typed, read-only record of everything the daemon counts.

`Daemon.snapshot()` builds it; /metrics, STATUS=, `lineaged status` (through /metrics)
and the scan report read only this, never a stage's attributes. The stages' own stats
objects are copied in (they are small dataclasses of numbers), so a snapshot does not
change under its reader and a renamed counter fails where the snapshot is made or read,
in a test, instead of silently exporting nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lineaged.batcher import BatcherStats
from lineaged.catalog.stage import SchemaStats
from lineaged.graph.stats import WriterStats
from lineaged.pipeline import PipelineStats
from lineaged.pool import PoolStats

STATES = ("starting", "running", "reloading", "draining", "stopped")


@dataclass
class Health:
    """Liveness facts the event loop keeps fresh; read by /healthz and the snapshot."""

    state: str = "starting"
    started_at: float = field(default_factory=time.monotonic)
    heartbeat: float = field(default_factory=time.monotonic)
    neo4j_ok: bool = False
    neo4j_error: str | None = None
    stale_after_s: float = 10.0

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def heartbeat_age(self) -> float:
        return time.monotonic() - self.heartbeat

    def loop_alive(self) -> bool:
        return self.heartbeat_age() < self.stale_after_s

    def healthy(self) -> tuple[bool, str]:
        if not self.loop_alive():
            return False, f"event loop silent for {self.heartbeat_age():.1f} s"
        if not self.neo4j_ok:
            return False, f"neo4j unreachable: {self.neo4j_error or 'not checked yet'}"
        if self.state in ("starting", "stopped"):
            return False, self.state
        return True, "ok"


@dataclass(frozen=True, slots=True)
class BatcherSnapshot:
    stats: BatcherStats
    pending: int  # files waiting in the batcher


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    stats: PoolStats
    queue_depth: dict[str, int]  # parse tasks queued, per priority name
    in_flight: int  # parse tasks handed to workers
    worker_pids: tuple[int, ...]
    # Someone edits: the backfill keeps a worker free (PriorityPool.editing).
    editing: bool = False


@dataclass(frozen=True, slots=True)
class DriverPool:
    in_use: int
    idle: int


@dataclass(frozen=True, slots=True)
class WriterSnapshot:
    stats: WriterStats
    waiting_s: float  # how long writes have been waiting for Neo4j; 0 = not waiting
    driver_pool: DriverPool | None  # None when the driver's pool cannot be read


@dataclass(frozen=True, slots=True)
class DaemonSnapshot:
    state: str
    uptime_s: float
    heartbeat_age_s: float
    healthy: bool
    neo4j_ok: bool
    neo4j_error: str | None  # why the last reachability check failed
    live: BatcherSnapshot
    backfill: BatcherSnapshot
    batches_open: int  # taken from a batcher and not yet fully processed
    rescans_requested: int
    rescans_run: int
    watch_troubles: int  # overflows and refused watches seen by the watcher
    schema: SchemaStats  # the corpus schema catalog
    # None until the stage has been started.
    pool: PoolSnapshot | None = None
    pipeline: PipelineStats | None = None
    writer: WriterSnapshot | None = None

    def status_line(self) -> str:
        """STATUS= for systemd: the counters an operator glances at in systemctl status."""
        parts = [self.state]
        if self.pipeline is not None:
            st = self.pipeline
            parts.append(f"files {st.files_seen} parsed {st.parsed} unchanged {st.unchanged}")
            parts.append(f"errors {st.errors}")
        if self.pool is not None:
            parts.append(f"queued {sum(self.pool.queue_depth.values())}")
        if self.writer is not None:
            parts.append(f"dead letters {self.writer.stats.dead_letters}")
            if self.writer.stats.waiting_since is not None:
                parts.append("waiting for Neo4j")
        return ", ".join(parts)
