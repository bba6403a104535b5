"""Pause Python's cyclic garbage collector around bulk work that builds many objects
(start-up's catalog load, a reconcile of a whole root, each slice of parse-cache
decodes, the writer's rows).

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
