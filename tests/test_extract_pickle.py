"""Results stay small on the pool's transport: statement-wide influence is listed once
per statement (not per target column), identical source lists and names are shared
objects (pickle writes them once), and a round trip changes nothing."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "bench"))

from bench_extract import corpus

from lineaged.extract import extract


def test_results_are_compact_shared_and_round_trip() -> None:
    result = extract(corpus(1)[0], "postgres")
    statement = result.statements[0]
    names: dict[str, str] = {}
    for sources in [e.sources for e in statement.columns] + [i.sources for i in statement.indirect]:
        for name in sources:
            assert names.setdefault(name, name) is name  # one string object per name
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    assert pickle.loads(data) == result
    # The per-column view repeats the JOIN/FILTER lists on every one of the ~40
    # target columns; the result states them once.
    assert statement.indirect and len(statement.target_columns) > 30
    stated = sum(len(e.sources) for e in (*statement.columns, *statement.indirect))
    per_column = sum(len(e.sources) for e in statement.expanded_columns())
    assert stated * 5 < per_column
    expanded = pickle.dumps(statement.expanded_columns(), protocol=pickle.HIGHEST_PROTOCOL)
    assert len(data) < len(expanded)
