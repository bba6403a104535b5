"""SIGKILL the daemon at random moments while files change; after a restart the graph
equals a clean ingest of the final tree and the integrity queries find nothing.
(Longer: tests/bench/bench_crash.py.)"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from .crash import crash_rounds


async def test_sigkill_at_random_moments_then_restart_matches_a_clean_ingest(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    seed = int(os.environ.get("LINEAGED_CRASH_SEED", random.randrange(1 << 30)))
    print(f"crash test seed {seed} (LINEAGED_CRASH_SEED to repeat)")
    report = await crash_rounds(graph, neo4j_server, tmp_path, files=120, kills=3, seed=seed)
    print(report, *report.rounds, sep="\n  ")
    # crash_rounds raises CrashTestFailed (seed, rounds, the last daemon's exit code and
    # output, graph vs disk) on any failure; these hold whenever it returns.
    assert report.kills == 3 and report.files > 0
    assert report.problems == {}
    assert report.equal
