"""Qualified names as text: dotted parts, a part that holds a dot or a quote quoted.

`catalog.schema.table` and `table.column` are joined with dots, so a part that itself
contains a dot must be quoted to keep the name unambiguous: the quoted identifier
`"a.b"` is the one-part name `"a.b"`, not the two parts `a.b`; `x."b.c"` (column `b.c`
of `x`) is not `x.b.c` (column `c` of `x.b`). Parts are quoted the SQL way (`"`
around, `""` inside) only when needed, so ordinary names read as before.
"""

from __future__ import annotations

_QUOTE = '"'


def quote_part(part: str) -> str:
    """`part` as it appears in a dotted name."""
    if part and "." not in part and _QUOTE not in part:
        return part
    return _QUOTE + part.replace(_QUOTE, _QUOTE * 2) + _QUOTE


def column_id(table: str, column: str) -> str:
    """Id of `column` of the (already joined) table name `table`."""
    return f"{table}.{quote_part(column)}"


def split_column_id(column_id: str) -> tuple[str, str]:
    """Inverse of column_id: `db.sch.tbl.col` → (`db.sch.tbl`, `col`), `x."b.c"` →
    (`x`, `b.c`). Read from the right, so the table part comes back as spelled."""
    if column_id.endswith(_QUOTE) and len(column_id) > 1:
        i = len(column_id) - 2
        while i >= 0:
            if column_id[i] == _QUOTE:
                if i > 0 and column_id[i - 1] == _QUOTE:
                    i -= 2  # a doubled quote inside the part
                    continue
                break
            i -= 1
        if i >= 0 and (i == 0 or column_id[i - 1] == "."):
            return column_id[: max(i - 1, 0)], column_id[i + 1 : -1].replace(_QUOTE * 2, _QUOTE)
    table, _, name = column_id.rpartition(".")
    return table, name
