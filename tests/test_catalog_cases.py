"""The multi-file cases under tests/catalog_cases/, each checked exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "catalog_cases"))

from cases import KNOWN_FAILURES, MultiCase, compare, multi_cases


@pytest.mark.parametrize("case", multi_cases(), ids=lambda c: c.name)
def test_case(case: MultiCase) -> None:
    if case.name in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[case.name])
    for file, (want, got) in compare(case).items():
        assert got == want, file


def test_the_set_needs_other_files() -> None:
    """Every case's expectations differ from what each file gives alone: the set
    measures cross-file resolution, not single-file extraction."""
    for case in multi_cases():
        assert any(w != g for w, g in compare(case, isolated=True).values()), case.name
