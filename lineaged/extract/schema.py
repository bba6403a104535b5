"""Known table columns: from an optional schema file and from the file being read.

A schema file is JSON or YAML of the shape `{table: {column: type}}`; table keys may
be dotted (`db.sch.tbl`). `SchemaIndex` holds the normalised form and answers
"which columns does this table have?" — exactly, or by an unambiguous suffix match so
that `orders` in SQL finds `sales.orders` in the file and vice versa. One index is
built per `extract()` call; it learns the CREATE TABLE / CTAS / view statements of
that file only (no state survives the call).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import orjson

from lineaged.extract.names import Naming, column_name, parse_table_key

# Columns learned from a CTAS or view have no declared type.
UNKNOWN_TYPE = "UNKNOWN"


def load_schema_file(path: str | Path) -> dict[str, dict[str, str]]:
    """Read `{table: {column: type}}` from a .json / .yaml / .yml file.

    Raises ValueError with the file name when the content has the wrong shape, so the
    config layer can report it at start-up rather than at the first extraction.
    """
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml  # only the YAML path pays for the import

        data = yaml.safe_load(raw)
    else:
        data = orjson.loads(raw)
    return _validated(data, str(path))


def _validated(data: object, origin: str) -> dict[str, dict[str, str]]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{origin}: schema must be a mapping of table -> {{column: type}}")
    out: dict[str, dict[str, str]] = {}
    for table, columns in data.items():
        if not isinstance(columns, Mapping):
            raise ValueError(f"{origin}: columns of {table!r} must be a mapping column -> type")
        out[str(table)] = {str(c): str(t) for c, t in columns.items()}
    return out


def schema_fingerprint(schema: Mapping[str, Mapping[str, str]] | None) -> str:
    """Stable hash of a schema (order-insensitive), for use in cache keys."""
    if not schema:
        return "none"
    canonical = {str(t): {str(c): str(v) for c, v in cols.items()} for t, cols in schema.items()}
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class SchemaIndex:
    """Normalised table -> ordered {column: type}; lookups by exact name or suffix."""

    __slots__ = ("_by_last", "_tables")

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, str]] = {}
        # Last name part -> full names, so suffix lookups never scan every table.
        self._by_last: dict[str, set[str]] = {}

    @classmethod
    def build(cls, schema: Mapping[str, Mapping[str, str]] | None, naming: Naming) -> SchemaIndex:
        index = cls()
        for key, columns in (schema or {}).items():
            cols = {column_name(c, naming): str(t) for c, t in columns.items()}
            index.add(parse_table_key(key, naming), cols)
        return index

    def add(self, table: str, columns: Mapping[str, str]) -> None:
        if not columns:
            return
        self._tables[table] = dict(columns)
        self._by_last.setdefault(table.rsplit(".", 1)[-1], set()).add(table)

    def get(self, table: str) -> dict[str, str] | None:
        found = self._tables.get(table)
        if found is not None:
            return found
        candidates = [
            name
            for name in self._by_last.get(table.rsplit(".", 1)[-1], ())
            if name.endswith("." + table) or table.endswith("." + name)
        ]
        # Two candidates means the name is ambiguous: better unknown than wrong.
        return self._tables[candidates[0]] if len(candidates) == 1 else None
