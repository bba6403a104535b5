"""Where one batch's time went: monotonic marks per stage, from file event to commit.

A `StageClock` travels with a batch through the pipeline; each stage marks the moment
it finished (`time.monotonic()`, the clock `FileEvent.at` and the pool workers' start
stamps use too, so marks from the watcher thread and the worker processes compare).
`durations()` turns the marks into time spent per stage, in the order they happened
(each from the mark before it). The stages:

    debounce       last event of the batch → released by the batcher
    lane_wait      released → a lane starts processing it
    read           read + SHA-256 (a thread hop) and the stat-cache update
    graph_state    the graph's File states (the unchanged-file check; a live batch
                   skips it when this process knows every file changed)
    cache_get      parse-cache lookups
    pool_queue     submitted → handed to a worker process (the pool's priority queue)
    worker_queue   handed over → a worker starts it (behind tasks already in the worker)
    extract        worker start → result back in the event loop
    writer_wait    → a write transaction slot is free
    tx_open        session + BEGIN
    tx_statements  the transaction's statements (delete old, write new, drop orphans)
    tx_commit      COMMIT (the lineage is visible from here); a live batch's write is
                   one auto-commit statement, so it has no tx_open/tx_statements and
                   this stage is the whole statement with its commit
    cache_put      results stored in the parse cache

A stage a batch did not go through has no mark and no duration. The daemon feeds the
durations to the `lineaged_stage_seconds{lane,stage}` histogram; `bench_latency.py`
reads them per edit.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

STAGES = (
    "debounce",
    "lane_wait",
    "read",
    "graph_state",
    "cache_get",
    "pool_queue",
    "worker_queue",
    "extract",
    "writer_wait",
    "tx_open",
    "tx_statements",
    "tx_commit",
    "cache_put",
)


@dataclass
class StageClock:
    """Marks of one batch. `start` is the batch's last file event (monotonic)."""

    start: float
    live: bool = True
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, stage: str, at: float | None = None) -> None:
        """`stage` ended at `at` (now by default). Several files of a batch marking the
        same stage keep the latest: the batch waits for its slowest file."""
        at = time.monotonic() if at is None else at
        if at > self.marks.get(stage, 0.0):
            self.marks[stage] = at

    def durations(self) -> dict[str, float]:
        """Seconds per stage that was marked, each from the mark before it in time
        (the batch's last event for the first), in the order they happened."""
        out: dict[str, float] = {}
        previous = self.start
        for stage, at in sorted(self.marks.items(), key=lambda item: item[1]):
            out[stage] = max(0.0, at - previous)
            previous = max(previous, at)
        return out

    @property
    def end(self) -> float:
        return max(self.marks.values(), default=self.start)


# The batch being processed in this task (and the tasks it starts): the pool and the
# writer mark their stages on it without the clock being threaded through their APIs.
_CURRENT: ContextVar[StageClock | None] = ContextVar("lineaged_stage_clock", default=None)


def current() -> StageClock | None:
    return _CURRENT.get()


def timing(clock: StageClock) -> object:
    """Make `clock` current for this task and the tasks it starts; returns the token
    for `untime`."""
    return _CURRENT.set(clock)


def untime(token: object) -> None:
    _CURRENT.reset(token)  # type: ignore[arg-type]


def mark(stage: str, at: float | None = None) -> None:
    """Mark `stage` on the current batch's clock, if there is one."""
    clock = _CURRENT.get()
    if clock is not None:
        clock.mark(stage, at)
