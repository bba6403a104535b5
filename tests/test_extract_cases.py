"""Every extraction case, exactly, for the three sets under tests/golden/:

- golden: tests/golden/<dialect>/<case> — the original corpus (most expectations were
  drafted from the extractor's output, then reviewed);
- audit: tests/golden/audit/<dialect>/<case> — written by hand before the extractor ran
  on them, since used to fix it;
- blind: tests/golden/blind/<dialect>/<case> — written by hand before the extractor ran
  on them and never used to change it: the held-out measure.

Known failures are xfails with the discrepancy as reason; a fix that makes one pass
must take it off its list (test_known_failures_still_fail).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from corpus import (
    AUDIT_KNOWN_FAILURES,
    BLIND_KNOWN_FAILURES,
    KNOWN_FAILURES,
    Case,
    audit_cases,
    blind_cases,
    cases,
    compact,
    normalised,
)

from lineaged.extract import extract

SIX = {"postgres", "snowflake", "bigquery", "tsql", "spark", "mysql"}


class CaseSet(NamedTuple):
    cases: list[Case]
    known_failures: dict[str, str]
    min_cases: int
    dialects: set[str] | None  # None: any 6 or more


SETS = {
    "golden": CaseSet(cases(), KNOWN_FAILURES, 200, None),
    "audit": CaseSet(audit_cases(), AUDIT_KNOWN_FAILURES, 60, SIX),
    "blind": CaseSet(blind_cases(), BLIND_KNOWN_FAILURES, 40, SIX),
}
ALL = [(name, case) for name, s in SETS.items() for case in s.cases]
KNOWN = [(name, case_id) for name, s in SETS.items() for case_id in sorted(s.known_failures)]


def matches(case: Case) -> bool:
    doc = case.load()
    result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
    return normalised(compact(result)) == normalised(doc["statements"])


@pytest.mark.parametrize("name", sorted(SETS))
def test_set_is_large_and_broad(name: str) -> None:
    s = SETS[name]
    dialects = {c.dialect for c in s.cases}
    assert len(s.cases) >= s.min_cases
    assert dialects >= s.dialects if s.dialects else len(dialects) >= 6
    assert set(s.known_failures) <= {c.id for c in s.cases}


@pytest.mark.parametrize(("name", "case"), ALL, ids=[f"{n}:{c.id}" for n, c in ALL])
def test_case(name: str, case: Case) -> None:
    known = SETS[name].known_failures
    if case.id in known:
        pytest.xfail(known[case.id])
    doc = case.load()
    result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
    assert normalised(compact(result)) == normalised(doc["statements"])


@pytest.mark.parametrize(("name", "case_id"), KNOWN, ids=[f"{n}:{i}" for n, i in KNOWN])
def test_known_failures_still_fail(name: str, case_id: str) -> None:
    """A known failure that starts passing must be taken off the list."""
    case = next(c for c in SETS[name].cases if c.id == case_id)
    assert not matches(case)
