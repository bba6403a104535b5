"""The corpus schema catalog: the columns of every table some file defines.

Fed with extraction results (`FileLineage.defines`, whatever produced the target: DDL,
CTAS, a view, SELECT INTO, a path or dbt target), it answers the same lookups a worker
makes (`TableColumns`: exact name, else an unambiguous suffix) and tells which files
read a table whose columns changed.

Precedence, per lookup: the file's own earlier statements, then the root's schema
file, then this catalog. When several files define one table, a reader gets the
definition nearest to it in the tree (most leading directories in common: one
repository often holds several databases that reuse table names), then one with
declared types (a CREATE TABLE with a column list) over one derived from a query,
then the smallest file id; that last order alone picks the table's reported
definition, and definitions with a different column list are reported as
conflicts. So what a file reads is a function of the set of results (and of where
the file is), never of the order they arrived in.

Results depend on the catalog and the catalog on results: the daemon and
`lineaged extract DIR` iterate to a fixpoint (lineaged/catalog/fixpoint.py). Starting
from an empty catalog, a cycle that only passes columns around (`a` = `SELECT * FROM
b`, `b` = `SELECT * FROM a`) never gets columns, whatever the order of arrival; a
query with an unexpanded star defines nothing, so no partial column list is ever
taken for a whole one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lineaged.extract.schema import UNKNOWN_TYPE, TableColumns, last_part, usage_fingerprint
from lineaged.model import FileLineage, TableSchema

Columns = tuple[tuple[str, str], ...]

# Words of a file's text: the candidate table names a worker may look up.
_WORD = re.compile(rb"[A-Za-z_@#][A-Za-z0-9_$@#]*")


@dataclass(frozen=True, slots=True)
class Definition:
    file: str
    table: str
    columns: Columns
    depends_on: tuple[str, ...]

    @property
    def typed(self) -> bool:
        return any(t != UNKNOWN_TYPE for _, t in self.columns)


@dataclass(frozen=True, slots=True)
class Conflict:
    """`table` is defined differently by several files; `chosen` won (see module doc)."""

    table: str
    chosen: str
    others: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What the catalog keeps per file: enough to rebuild itself and to tell whether
    the file's stored result is still current."""

    root: str
    sha256: str
    defines: tuple[TableSchema, ...]
    used: tuple[str, ...]
    fingerprint: str

    @classmethod
    def of(cls, root: str, sha256: str, lineage: FileLineage) -> FileRecord:
        return cls(root, sha256, lineage.defines, lineage.schema_used, lineage.schema_fingerprint)


def table_fingerprint(columns: Columns) -> str:
    """Hash of one table's ordered column list (with types)."""
    blob = json.dumps(list(columns), separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class Catalog:
    """Mutable, in-process; pure (no I/O). `explicit` maps a root name to its schema
    file's tables, which take precedence over anything the corpus defines."""

    explicit: dict[str, TableColumns] = field(default_factory=dict)
    records: dict[str, FileRecord] = field(default_factory=dict)
    _definitions: dict[str, dict[str, Definition]] = field(default_factory=dict)
    _chosen: TableColumns = field(default_factory=TableColumns)
    _chosen_from: dict[str, str] = field(default_factory=dict)
    # Last part of a looked-up name -> files that looked it up.
    _readers: dict[str, set[str]] = field(default_factory=dict)
    # Lower-cased last part -> last parts as spelled (for slicing by the file's words).
    _folded: dict[bytes, set[str]] = field(default_factory=dict)
    # Fingerprints by (root, used names) while nothing changes, for lookups that do not
    # depend on the reader (see `fingerprint`): a restart asks whether each of 100k
    # files is current, and most share a handful of used-name sets. Any change clears it.
    _fingerprints: dict[tuple[str | None, tuple[str, ...]], str] = field(default_factory=dict)

    def set_explicit(self, explicit: Mapping[str, TableColumns]) -> None:
        self.explicit = dict(explicit)
        self._fingerprints.clear()

    # -- feeding ---------------------------------------------------------------------

    def load(self, records: Mapping[str, FileRecord]) -> None:
        """Start-up: the records of an earlier run into an empty catalog, each defined
        table chosen once (`update` per file would re-choose a table per definition).
        The result is `update`'s for the same records: choices depend on the set of
        definitions, never on their order."""
        if self.records:
            raise ValueError("Catalog.load() needs an empty catalog")
        self._fingerprints.clear()
        readers, definitions = self._readers, self._definitions
        for file, record in records.items():
            self.records[file] = record
            for name in record.used:
                readers.setdefault(last_part(name), set()).add(file)
            for d in record.defines:
                definitions.setdefault(d.table, {})[file] = Definition(
                    file, d.table, d.columns, d.depends_on
                )
        # `_rechoose` without what only an update needs (the before/after comparison).
        for table, candidates in definitions.items():
            if len(candidates) == 1:
                (chosen,) = candidates.values()
            else:
                chosen = min(candidates.values(), key=_choice_order)
            self._chosen.add(table, dict(chosen.columns))
            self._chosen_from[table] = chosen.file
            last = last_part(table)
            self._folded.setdefault(last.lower().encode(), set()).add(last)

    def update(self, file: str, record: FileRecord | None) -> set[str]:
        """Record `file`'s latest result (None: the file is gone). Returns the tables
        whose chosen column list changed (appeared, changed or disappeared)."""
        self._fingerprints.clear()
        old = self.records.pop(file, None)
        before: dict[str, Columns] = {}
        if old is not None:
            for name in old.used:
                self._readers.get(last_part(name), set()).discard(file)
            for d in old.defines:
                self._definitions.get(d.table, {}).pop(file, None)
                before[d.table] = d.columns
        after: dict[str, Columns] = {}
        if record is not None:
            self.records[file] = record
            for name in record.used:
                self._readers.setdefault(last_part(name), set()).add(file)
            for d in record.defines:
                self._definitions.setdefault(d.table, {})[file] = Definition(
                    file, d.table, d.columns, d.depends_on
                )
                after[d.table] = d.columns
        touched = before.keys() | after.keys()
        # A reader may use this file's definition (the nearest one), not only the
        # globally chosen one: any change of it counts.
        mine = {t for t in touched if before.get(t) != after.get(t)}
        return self._rechoose(touched) | mine

    def _rechoose(self, tables: Iterable[str]) -> set[str]:
        changed = set()
        for table in sorted(tables):
            before = self._chosen.get(table)
            chosen = self._choose(table)
            if chosen is None:
                self._chosen.remove(table)
                self._chosen_from.pop(table, None)
            else:
                self._chosen.add(table, dict(chosen.columns))
                self._chosen_from[table] = chosen.file
                self._folded.setdefault(last_part(table).lower().encode(), set()).add(
                    last_part(table)
                )
            after = self._chosen.get(table)
            if _ordered(before) != _ordered(after):
                changed.add(table)
        return changed

    def _choose(self, table: str) -> Definition | None:
        candidates = self._definitions.get(table)
        if not candidates:
            return None
        return min(candidates.values(), key=_choice_order)

    def _pick(self, table: str, reader: str | None) -> Columns:
        """The definition of `table` a file reads: the one nearest to it in the tree
        (most leading directories in common; one repository often holds several
        databases that reuse table names), then as `_choose`."""
        candidates = self._definitions.get(table)
        if reader is None or not candidates or len(candidates) == 1:
            return tuple((self._chosen.get(table) or {}).items())
        best = min(
            candidates.values(),
            key=lambda d: (-_shared_dirs(reader, d.file), not d.typed, d.file),
        )
        return best.columns

    # -- asking ----------------------------------------------------------------------

    def columns(
        self, table: str, root: str | None = None, reader: str | None = None
    ) -> dict[str, str] | None:
        """What a lookup of `table` finds, for file `reader` under `root`."""
        found = self.lookup(table, root, reader)
        return None if found is None else dict(found[1])

    def lookup(
        self, name: str, root: str | None = None, reader: str | None = None
    ) -> tuple[str, Columns] | None:
        """Exactly what a worker's SchemaIndex records for an external lookup made
        by file `reader` (None: the globally chosen definitions)."""
        explicit = self.explicit.get(root or "")
        if explicit is not None and len(explicit):
            full = explicit.resolve(name)
            if full is not None:
                return full, tuple((explicit.get(full) or {}).items())
        full = self._chosen.resolve(name)
        return None if full is None else (full, self._pick(full, reader))

    def fingerprint(self, root: str, used: Iterable[str], reader: str | None = None) -> str:
        names = tuple(used)
        key = (root, names)
        known = self._fingerprints.get(key)
        if known is not None:
            return known
        found = {name: self.lookup(name, root, reader) for name in names}
        fingerprint = usage_fingerprint(found)
        if not any(self._depends_on_reader(name, root) for name in names):
            self._fingerprints[key] = fingerprint
        return fingerprint

    def _depends_on_reader(self, name: str, root: str | None) -> bool:
        """Whether `lookup(name, root, reader)` can differ between readers: only when
        the corpus answers it and several files define the table (`_pick`)."""
        explicit = self.explicit.get(root or "")
        if explicit is not None and len(explicit) and explicit.resolve(name) is not None:
            return False
        full = self._chosen.resolve(name)
        return full is not None and len(self._definitions.get(full, ())) > 1

    def is_current(self, file: str, sha256: str | None = None) -> bool:
        """The file's recorded result (of content `sha256`) was computed with what the
        catalog now holds."""
        record = self.records.get(file)
        if record is None or (sha256 is not None and record.sha256 != sha256):
            return False
        return self.fingerprint(record.root, record.used, file) == record.fingerprint

    def result_is_current(self, root: str, lineage: FileLineage, reader: str | None = None) -> bool:
        fingerprint = self.fingerprint(root, lineage.schema_used, reader)
        return fingerprint == lineage.schema_fingerprint

    def dependants(self, tables: Iterable[str]) -> set[str]:
        """Files whose recorded result looked up one of `tables` (by any name that
        resolves to it) and is no longer current."""
        candidates: set[str] = set()
        for table in tables:
            candidates |= self._readers.get(last_part(table), set())
        return {f for f in candidates if not self.is_current(f)}

    def slice_for(
        self, text: bytes, also: Iterable[str] = (), reader: str | None = None
    ) -> dict[str, dict[str, str]]:
        """The part of the catalog a worker needs for `text`: every chosen table whose
        last name part occurs as a word in the text (or in `also`), whole last-part
        groups, so that the worker resolves names exactly as `lookup` does. A name
        the words miss (an odd quoted identifier) makes the result's fingerprint
        disagree with `lookup`; the caller then re-extracts with `also` = its lookups."""
        if not len(self._chosen):
            return {}
        lasts: set[str] = {last_part(n) for n in also}
        for word in set(_WORD.findall(text)):
            lasts |= self._folded.get(word.lower(), set())
        out: dict[str, dict[str, str]] = {}
        for last in lasts:
            for table in self._chosen.group(last):
                out[table] = dict(self._pick(table, reader))
        return out

    def conflicts(self) -> list[Conflict]:
        out = []
        for table in sorted(self._chosen_from):
            chosen = self._definitions[table][self._chosen_from[table]]
            others = tuple(
                sorted(
                    f
                    for f, d in self._definitions[table].items()
                    if f != chosen.file and d.columns != chosen.columns
                )
            )
            if others:
                out.append(Conflict(table, chosen.file, others))
        return out

    def tables(self) -> list[tuple[str, Columns, str]]:
        """(table, columns, defining file) of every chosen definition, sorted."""
        return [(t, tuple(cols.items()), self._chosen_from[t]) for t, cols in self._chosen.items()]

    def table_count(self) -> int:
        return len(self._chosen)

    def defined_by(self, table: str) -> str | None:
        return self._chosen_from.get(table)


def _choice_order(d: Definition) -> tuple[bool, str]:
    """A table's reported definition: typed (declared columns) first, then file id."""
    return (not d.typed, d.file)


def _shared_dirs(a: str, b: str) -> int:
    """Leading directories two file ids (`root:dir/file.sql`) have in common."""
    n = 0
    for x, y in zip(a.split("/")[:-1], b.split("/")[:-1], strict=False):
        if x != y:
            break
        n += 1
    return n


def _ordered(columns: Mapping[str, str] | None) -> Columns | None:
    return None if columns is None else tuple(columns.items())
