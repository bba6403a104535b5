"""Results stay small on the pool's transport: identical source lists are shared
objects (pickle writes them once), and a round trip changes nothing."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "bench"))

from bench_extract import corpus

from lineaged.extract import extract


def test_repeated_sources_are_shared_and_round_trip() -> None:
    result = extract(corpus(1)[0], "postgres")
    columns = result.statements[0].columns
    first_seen: dict[tuple[str, ...], tuple[str, ...]] = {}
    repeated = 0
    for edge in columns:
        first = first_seen.setdefault(edge.sources, edge.sources)
        if sum(e.sources == edge.sources for e in columns) > 1:
            assert edge.sources is first  # equal lists are one object
            repeated += 1
    assert repeated > 40  # the statement-wide JOIN/FILTER lists repeat on every column
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    assert pickle.loads(data) == result
    fresh = [
        (e.target, tuple(s.encode().decode() for s in e.sources), e.transform) for e in columns
    ]
    shared = [(e.target, e.sources, e.transform) for e in columns]
    assert len(pickle.dumps(shared)) * 2 < len(pickle.dumps(fresh))
