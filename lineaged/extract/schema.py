"""Known table columns: from this file, a schema file, and the corpus catalog.

A schema file is JSON or YAML of the shape `{table: {column: type}}`; table keys may
be dotted (`db.sch.tbl`). `TableColumns` holds a normalised form and answers
"which columns does this table have?" — exactly, or by an unambiguous suffix match so
that `orders` in SQL finds `sales.orders` and vice versa. One `SchemaIndex` is built
per `extract()` call: what the file itself defines comes first, then the schema file,
then the catalog of tables defined elsewhere in the corpus (lineaged/catalog). It
records which external tables the result depended on; no state survives the call.
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

        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            problem = _yaml_problem(exc)
            raise ValueError(f"{path}: not a schema file: invalid YAML, {problem}") from None
    else:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a schema file: invalid JSON, {exc}") from None
    return _validated(data, str(path))


def _yaml_problem(exc: Exception) -> str:
    """One line: where and what (`line 3, column 7: could not determine a constructor
    for the tag '!include'`), never the multi-line excerpt PyYAML prints."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())


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


class TableColumns:
    """Normalised table -> ordered {column: type}, looked up exactly or by an
    unambiguous suffix (`orders` finds `sales.orders` and vice versa).

    The corpus catalog (lineaged/catalog) answers with this same class, so that a
    worker holding a slice of it and the daemon holding all of it resolve a name to
    the same table: every candidate for a name shares its last part, and a slice
    always carries whole last-part groups."""

    __slots__ = ("_by_last", "_tables")

    def __init__(self, tables: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._tables: dict[str, dict[str, str]] = {}
        # Last name part -> full names, so suffix lookups never scan every table.
        self._by_last: dict[str, set[str]] = {}
        for table, columns in (tables or {}).items():
            self.add(table, columns)

    def add(self, table: str, columns: Mapping[str, str]) -> None:
        if not columns:
            return
        self._tables[table] = dict(columns)
        self._by_last.setdefault(last_part(table), set()).add(table)

    def remove(self, table: str) -> None:
        if self._tables.pop(table, None) is not None:
            group = self._by_last[last_part(table)]
            group.discard(table)
            if not group:
                del self._by_last[last_part(table)]

    def resolve(self, table: str) -> str | None:
        """The full name `table` refers to, or None (unknown or ambiguous)."""
        if table in self._tables:
            return table
        candidates = [
            name
            for name in self._by_last.get(last_part(table), ())
            if name.endswith("." + table) or table.endswith("." + name)
        ]
        # Two candidates means the name is ambiguous: better unknown than wrong.
        return candidates[0] if len(candidates) == 1 else None

    def get(self, table: str) -> dict[str, str] | None:
        found = self.resolve(table)
        return None if found is None else self._tables[found]

    def group(self, last: str) -> dict[str, dict[str, str]]:
        """Every table whose last name part is `last` (what a slice must carry whole)."""
        return {name: self._tables[name] for name in self._by_last.get(last, ())}

    def last_parts(self) -> set[str]:
        return set(self._by_last)

    def __len__(self) -> int:
        return len(self._tables)

    def items(self) -> list[tuple[str, dict[str, str]]]:
        return sorted(self._tables.items())


def explicit_columns(
    schema: Mapping[str, Mapping[str, str]] | None, naming: Naming
) -> TableColumns:
    """A schema file's content in the extractor's spelling."""
    out = TableColumns()
    for key, columns in (schema or {}).items():
        cols = {column_name(c, naming): str(t) for c, t in columns.items()}
        out.add(parse_table_key(key, naming), cols)
    return out


def last_part(table: str) -> str:
    return table.rsplit(".", 1)[-1]


# What one external lookup found: (full table name, ordered (column, type) pairs).
Found = tuple[str, tuple[tuple[str, str], ...]] | None


def usage_fingerprint(used: Mapping[str, Found]) -> str:
    """Stable hash of what a result's external lookups found, column order included
    (it decides star expansion and INSERT by position). The daemon recomputes it from
    its catalog to tell whether a stored result is still current."""
    if not used:
        return "none"
    canonical = [[name, used[name]] for name in sorted(used)]
    blob = json.dumps(canonical, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class SchemaIndex:
    """The columns one extract() call knows: tables this file defined so far (local),
    then the schema file, then the corpus catalog (external layers, in that order).

    Every external lookup not answered locally is recorded, hits and misses alike:
    that is the result's dependency set (a miss matters too — the table may be
    defined later). `defined` keeps, per table this file defines, its last column
    list and the dependencies recorded before it was complete."""

    __slots__ = ("_layers", "_local", "defined", "used")

    def __init__(self, layers: tuple[TableColumns, ...] = ()) -> None:
        self._local = TableColumns()
        self._layers = layers
        self.used: dict[str, Found] = {}
        self.defined: dict[str, tuple[dict[str, str], frozenset[str]]] = {}

    @classmethod
    def build(
        cls,
        schema: Mapping[str, Mapping[str, str]] | None,
        naming: Naming,
        catalog: Mapping[str, Mapping[str, str]] | None = None,
    ) -> SchemaIndex:
        """`schema` is a schema file's content (raw keys, normalised here); `catalog`
        holds normalised names already (the daemon's catalog speaks the extractor's
        spelling)."""
        layers = (explicit_columns(schema, naming), TableColumns(catalog))
        return cls(tuple(layer for layer in layers if len(layer)))

    def add(self, table: str, columns: Mapping[str, str]) -> None:
        """Columns learned from this file (a temp table, a table variable)."""
        self._local.add(table, columns)

    def define(self, table: str, columns: Mapping[str, str]) -> None:
        """A table this file defines for the rest of the corpus."""
        if not columns:
            return
        self._local.add(table, columns)
        self.defined[table] = (dict(columns), frozenset(self.used))

    def get(self, table: str) -> dict[str, str] | None:
        found = self._local.get(table)
        if found is not None:
            return found
        for layer in self._layers:
            full = layer.resolve(table)
            if full is not None:
                columns = layer.get(full) or {}
                self.used[table] = (full, tuple(columns.items()))
                return columns
        self.used.setdefault(table, None)
        return None
