"""The held-out audit set: tests/golden/audit/<dialect>/<case>.

Expectations were written by hand from the SQL's semantics before the extractor was
run on them (unlike most of the original corpus, drafted from its output). Known
failures are strict xfails: a fix that makes one pass must move it out of the list.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from corpus import AUDIT_KNOWN_FAILURES, audit_cases, compact, normalised

from lineaged.extract import extract

CASES = audit_cases()


def test_audit_set_is_large_and_broad() -> None:
    assert len(CASES) >= 60
    assert {c.dialect for c in CASES} >= {
        "postgres",
        "snowflake",
        "bigquery",
        "tsql",
        "spark",
        "mysql",
    }
    assert set(AUDIT_KNOWN_FAILURES) <= {c.id for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_audit(case) -> None:
    if case.id in AUDIT_KNOWN_FAILURES:
        pytest.xfail(AUDIT_KNOWN_FAILURES[case.id])
    doc = case.load()
    result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
    assert normalised(compact(result)) == normalised(doc["statements"])


@pytest.mark.parametrize("case_id", sorted(AUDIT_KNOWN_FAILURES))
def test_known_failures_still_fail(case_id) -> None:
    """A known failure that starts passing must be taken off the list."""
    case = next(c for c in CASES if c.id == case_id)
    doc = case.load()
    result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
    assert normalised(compact(result)) != normalised(doc["statements"])
