"""Schema files and their fingerprint."""

from __future__ import annotations

import pytest

from lineaged.extract import extract, load_schema_file, schema_fingerprint


def test_load_json_and_yaml_agree(tmp_path) -> None:
    (tmp_path / "s.json").write_text('{"sales.orders": {"id": "int", "amount": "numeric"}}')
    (tmp_path / "s.yaml").write_text("sales.orders:\n  id: int\n  amount: numeric\n")
    assert load_schema_file(tmp_path / "s.json") == load_schema_file(tmp_path / "s.yaml")


def test_bad_shape_is_a_value_error(tmp_path) -> None:
    (tmp_path / "s.json").write_text('{"t": ["a", "b"]}')
    with pytest.raises(ValueError, match="must be a mapping"):
        load_schema_file(tmp_path / "s.json")


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("tags.yaml", "t:\n  a: !include-field-description x\n", "line 2, column 6"),
        ("broken.yaml", "t: {a: int\nu: [\n", "line 2, column 2"),
        ("broken.json", '{"t": {"a": "int"', "invalid JSON"),
    ],
)
def test_unreadable_schema_file_is_one_line_value_error(tmp_path, name, text, where) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_schema_file(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and where in message


def test_fingerprint_is_order_insensitive_and_content_sensitive() -> None:
    a = {"t": {"x": "int", "y": "int"}, "u": {"z": "int"}}
    b = {"u": {"z": "int"}, "t": {"y": "int", "x": "int"}}
    assert schema_fingerprint(a) == schema_fingerprint(b)
    assert schema_fingerprint(a) != schema_fingerprint({"t": {"x": "int"}})
    assert schema_fingerprint(None) == schema_fingerprint({})


def test_schema_suffix_match_expands_star() -> None:
    result = extract(
        "INSERT INTO dw.t (a, b) SELECT * FROM orders",
        "postgres",
        {"sales.orders": {"id": "int", "amount": "int"}},
        default_schema="sales",
    )
    edges = {(e.target, e.sources) for e in result.statements[0].columns}
    assert edges == {("dw.t.a", ("sales.orders.id",)), ("dw.t.b", ("sales.orders.amount",))}
