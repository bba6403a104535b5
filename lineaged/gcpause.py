"""Pause Python's cyclic garbage collector around bulk work that builds many objects
(start-up's catalog load, a reconcile of a whole root, each slice of parse-cache
decodes, the writer's rows), and run it less often while the daemon runs.

Every 700 allocations the collector runs, and as the heap grows its older generations
are re-scanned whole: loading 100,000 catalog records took 7.9 s with it and 1.8 s
without (tests/bench/bench_warm_restart.py --profile showed decode and `typed` as the
top frames: that was the collector). These objects form no reference cycles, so
nothing is left for the collector to find afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# A pause only defers the collector: allocations still count, and the first one after
# it sets off the collection it would have run. A 20,000-file rebuild from the cache
# still ran 1,047 young, 95 middle and 9 full collections in the daemon (1.56 s of its
# 7.6 CPU s; the full ones, over the whole heap, 0.95 s). With these thresholds it ran
# ~145, 3 and 0 (0.6 s), and the daemon used 5.7-6.1 CPU s (bench_rebuild.py, README).
# Cycles still die young (a young collection every 10,000 allocations); only those
# that outlive two generations wait longer for a full collection.
DAEMON_THRESHOLDS = (10_000, 50, 50)


@contextmanager
def daemon_collector() -> Iterator[None]:
    """The collector's thresholds for a daemon's run, restored afterwards (tests run
    daemons inside one process)."""
    before = gc.get_threshold()
    gc.set_threshold(*DAEMON_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Nests, and overlapping pauses in concurrent tasks are safe: the collector is
    re-enabled only by the pause that disabled it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
