"""Temp tables followed through within one file.

A statement that fills a temp table (`#t`, CREATE TEMP/TEMPORARY/VOLATILE, a
temporary view, SELECT ... INTO #t) records here what each of its columns came from;
a later read of the temp table is replaced by that, table- and column-level. Temp
tables therefore never surface as targets or sources. The registry lives for one
`extract()` call only.

A T-SQL table variable (`@t`) lives for one batch, so one that this file never
declared nor filled (a table-valued parameter) is read as an empty temp table: no
sources, its columns unresolved. A `#t` filled elsewhere (by a calling procedure)
stays a source under its own name.

Per-column lineage and the statement-level indirect edges (joins, filters, grouping
that shaped the temp table's rows) are kept apart, exactly like a CTE's: a reader
that uses a temp column in its own GROUP BY or JOIN composes only that column's
lineage with its clause, while the temp table's own filters reach the reader as
what they are (a FILTER stays a FILTER).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lineaged.extract.columns import Lin, merge


@dataclass(slots=True)
class TempTable:
    sources: set[str] = field(default_factory=set)
    columns: dict[str, Lin] = field(default_factory=dict)
    indirect: Lin = field(default_factory=dict)
    # Base tables behind an unexpanded `SELECT *` that filled it: a column not listed
    # in `columns` passes through from there when there is exactly one.
    star_from: set[str] = field(default_factory=set)


@dataclass(slots=True)
class TempRegistry:
    tables: dict[str, TempTable] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def declare(self, name: str) -> None:
        self.tables.setdefault(name, TempTable())

    def fill(
        self,
        name: str,
        sources: set[str],
        columns: dict[str, Lin],
        indirect: Lin,
        star_from: set[str] = frozenset(),
    ) -> None:
        """Add what one statement wrote into `name` (INSERTs accumulate)."""
        table = self.tables.setdefault(name, TempTable())
        table.sources |= sources
        for column, lin in columns.items():
            merge(table.columns.setdefault(column, {}), lin)
        merge(table.indirect, indirect)
        table.star_from |= star_from

    def _lookup(self, name: str) -> TempTable | None:
        temp = self.tables.get(name)
        if temp is None and name.startswith("@"):
            return _UNKNOWN_VARIABLE
        return temp

    def resolve_tables(self, names: set[str]) -> set[str]:
        out: set[str] = set()
        for name in names:
            temp = self._lookup(name)
            out |= temp.sources if temp is not None else {name}
        return out

    def indirect_of(self, names: set[str]) -> Lin:
        """Statement-level indirect edges of the temp tables among `names`."""
        out: Lin = {}
        for name in names:
            temp = self.tables.get(name)
            if temp is not None:
                merge(out, temp.indirect)
        return out

    def resolve_lin(self, lin: Lin, unresolved: set[str]) -> Lin:
        """Replace base columns of temp tables by what those columns were filled from."""
        out: Lin = {}
        for transform, bases in lin.items():
            for table, column in bases:
                temp = self._lookup(table)
                if temp is None:
                    out.setdefault(transform, set()).add((table, column))
                elif column in temp.columns:
                    merge(out, temp.columns[column], transform)
                elif len(temp.star_from) == 1 and not temp.columns:
                    (origin,) = temp.star_from
                    out.setdefault(transform, set()).add((origin, column))
                else:
                    unresolved.add(f"{table}.{column}")
        return out


# What an undeclared table variable resolves to (never written to: fill() registers).
_UNKNOWN_VARIABLE = TempTable()
