"""Temp tables followed through within one file.

A statement that fills a temp table (`#t`, CREATE TEMP/TEMPORARY/VOLATILE, a
temporary view, SELECT ... INTO #t) records here what each of its columns came from;
a later read of the temp table is replaced by that, table- and column-level. Temp
tables therefore never surface as targets or sources. The registry lives for one
`extract()` call only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lineaged.extract.columns import Lin, merge


@dataclass(slots=True)
class TempTable:
    sources: set[str] = field(default_factory=set)
    columns: dict[str, Lin] = field(default_factory=dict)


@dataclass(slots=True)
class TempRegistry:
    tables: dict[str, TempTable] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def declare(self, name: str) -> None:
        self.tables.setdefault(name, TempTable())

    def fill(self, name: str, sources: set[str], columns: dict[str, Lin]) -> None:
        """Add what one statement wrote into `name` (INSERTs accumulate)."""
        table = self.tables.setdefault(name, TempTable())
        table.sources |= sources
        for column, lin in columns.items():
            merge(table.columns.setdefault(column, {}), lin)

    def resolve_tables(self, names: set[str]) -> set[str]:
        out: set[str] = set()
        for name in names:
            temp = self.tables.get(name)
            out |= temp.sources if temp is not None else {name}
        return out

    def resolve_lin(self, lin: Lin, unresolved: set[str]) -> Lin:
        """Replace base columns of temp tables by what those columns were filled from."""
        out: Lin = {}
        for transform, bases in lin.items():
            for table, column in bases:
                temp = self.tables.get(table)
                if temp is None:
                    out.setdefault(transform, set()).add((table, column))
                elif column in temp.columns:
                    merge(out, temp.columns[column], transform)
                else:
                    unresolved.add(f"{table}.{column}")
        return out
