"""Every golden case, exactly: tests/golden/<dialect>/<case>.sql against <case>.json."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from corpus import KNOWN_FAILURES, cases, compact, normalised

from lineaged.extract import extract

CASES = cases()


def test_corpus_is_large_and_broad() -> None:
    assert len(CASES) >= 200
    assert len({c.dialect for c in CASES}) >= 6


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case) -> None:
    if case.id in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[case.id])
    doc = case.load()
    result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
    assert normalised(compact(result)) == normalised(doc["statements"])


@pytest.mark.parametrize("case_id", sorted(KNOWN_FAILURES))
def test_known_failures_still_fail(case_id) -> None:
    """A known failure that starts passing must be taken off the list."""
    case = next(c for c in CASES if c.id == case_id)
    doc = case.load()
    result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
    assert normalised(compact(result)) != normalised(doc["statements"])
