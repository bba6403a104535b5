"""Dotted names stay unambiguous: a part with a dot or a quote is quoted."""

from __future__ import annotations

import pytest

from lineaged.qualified import column_id, quote_part, split_column_id


def test_parts_with_dots_are_quoted_and_others_are_not() -> None:
    assert quote_part("orders") == "orders"
    assert quote_part("a.b") == '"a.b"'
    assert quote_part('say "hi"') == '"say ""hi"""'
    assert column_id("x", "b.c") == 'x."b.c"'
    assert column_id("x", "b.c") != column_id("x.b", "c")


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("a", "b"),
        ('"a.b"', "c"),
        ("x", "b.c"),
        ("x.b", "c"),
        ("x", 'b"q'),
        ("t", ""),
        ("t", '"'),
        ('s."x.y"', '"q."'),
        ("#tmp", "col"),
    ],
)
def test_column_ids_split_back_into_table_and_column(table: str, column: str) -> None:
    assert split_column_id(column_id(table, column)) == (table, column)
