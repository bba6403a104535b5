"""lineaged lineage NAME: which graph table a typed name means."""

from __future__ import annotations

import pytest

from lineaged.graph.name_match import match_name

NAMES = [
    "moz-fx-data-shared-prod.telemetry.clients_daily",
    "moz-fx-data-shared-prod.telemetry_derived.clients_daily_v6",
    "RAW.ORDERS",
    "marts.orders",
    "dw.Mixed",
    "dw.mixed",
]


@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        ("marts.orders", "marts.orders"),  # exact
        ("raw.orders", "RAW.ORDERS"),  # case-insensitive (Snowflake folds to upper)
        ("telemetry.clients_daily", "moz-fx-data-shared-prod.telemetry.clients_daily"),
        ("CLIENTS_DAILY_V6", "moz-fx-data-shared-prod.telemetry_derived.clients_daily_v6"),
        ("dw.Mixed", "dw.Mixed"),  # exact wins over a case-insensitive twin
    ],
)
def test_a_name_is_found_exactly_case_insensitively_or_by_unique_suffix(asked, meant) -> None:
    assert match_name(asked, NAMES).name == meant


def test_several_fits_are_ambiguous_and_listed() -> None:
    m = match_name("orders", NAMES)
    assert m.name is None and m.candidates == ("RAW.ORDERS", "marts.orders")
    assert "matches several tables" in m.explain("orders")
    m = match_name("DW.MIXED", NAMES)
    assert m.name is None and m.candidates == ("dw.Mixed", "dw.mixed")


def test_a_suffix_must_end_on_a_dot() -> None:
    assert match_name("ders", NAMES).name is None


def test_no_fit_suggests_close_names() -> None:
    m = match_name("telemetry.clients_dialy", NAMES)
    assert m.name is None
    assert m.suggestions[0] == "moz-fx-data-shared-prod.telemetry.clients_daily"
    line = m.explain("telemetry.clients_dialy")
    assert line.startswith("no table named 'telemetry.clients_dialy' in the graph; did you mean")
    assert "\n" not in line
