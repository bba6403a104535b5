"""The blind set: tests/golden/blind/<dialect>/<case>.

Expectations were written by hand from the SQL's semantics before the extractor was
ever run on them, and the set has not been used to change the extractor (the corpus
and the audit set have), so it measures accuracy on unseen warehouse SQL. Known
failures are xfails with the discrepancy as reason; test_known_failures_still_fail
makes a fix that starts passing one take it off the list.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from corpus import BLIND_KNOWN_FAILURES, blind_cases, compact, normalised

from lineaged.extract import extract

CASES = blind_cases()


def test_blind_set_is_large_and_broad() -> None:
    assert len(CASES) >= 40
    assert {c.dialect for c in CASES} >= {
        "postgres",
        "snowflake",
        "bigquery",
        "tsql",
        "spark",
        "mysql",
    }
    assert set(BLIND_KNOWN_FAILURES) <= {c.id for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_blind(case) -> None:
    if case.id in BLIND_KNOWN_FAILURES:
        pytest.xfail(BLIND_KNOWN_FAILURES[case.id])
    doc = case.load()
    result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
    assert normalised(compact(result)) == normalised(doc["statements"])


@pytest.mark.parametrize("case_id", sorted(BLIND_KNOWN_FAILURES))
def test_known_failures_still_fail(case_id) -> None:
    """A known failure that starts passing must be taken off the list."""
    case = next(c for c in CASES if c.id == case_id)
    doc = case.load()
    result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
    assert normalised(compact(result)) != normalised(doc["statements"])
