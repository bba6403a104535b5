"""SQL text -> lineage, as a pure function (see docs/extract.md).

`extract()` runs inside pool workers: it does no I/O, keeps no state between calls,
and returns a small picklable `FileLineage`. `EXTRACTOR_VERSION` is part of the parse
cache key: bump it whenever the output for some input may change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlglot.dialects.dialect import Dialect

from lineaged.extract.dialects import known_dialects, unknown_dialect_message
from lineaged.extract.file_lineage import extract_text
from lineaged.extract.names import Naming
from lineaged.extract.promote import target_name
from lineaged.extract.schema import (
    TableColumns,
    explicit_columns,
    load_schema_file,
    schema_fingerprint,
)
from lineaged.model import FileLineage

__all__ = [
    "EXTRACTOR_VERSION",
    "extract",
    "known_dialects",
    "load_schema_file",
    "schema_fingerprint",
    "schema_layer",
]

EXTRACTOR_VERSION = "1.7.0+sqlglot30.30.0"

# sqlglot logs a warning for every statement it falls back to parsing as a Command;
# over a warehouse of procedures that is noise in the daemon's log, not information.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def extract(
    text: str | bytes,
    dialect: str,
    schema: Mapping[str, Mapping[str, str]] | None = None,
    *,
    default_catalog: str | None = None,
    default_schema: str | None = None,
    catalog: Mapping[str, Mapping[str, str]] | None = None,
    target: str | None = None,
) -> FileLineage:
    """Lineage of every statement in `text`. Never raises, except ValueError for an
    unknown dialect or a malformed target (configuration errors, not properties of
    the file).

    `schema` is a schema file's content; `catalog` the columns of tables defined
    elsewhere in the corpus, already in the extractor's spelling (see lineaged/catalog).
    The schema file takes precedence over the catalog, and the file's own definitions
    over both. `target` names the table the file's final bare SELECT writes (a
    path-target rule, a dbt model's relation)."""
    if dialect not in known_dialects():
        raise ValueError(unknown_dialect_message(dialect))
    engine = Dialect.get_or_raise(dialect)
    promote_to = (
        target_name(target, Naming.build(engine, default_catalog, default_schema))
        if target
        else None
    )
    text, file_error = _decode(text)
    return extract_text(
        text,
        engine,
        EXTRACTOR_VERSION,
        schema,
        default_catalog,
        default_schema,
        file_error,
        catalog,
        promote_to,
    )


def schema_layer(
    schema: Mapping[str, Mapping[str, str]] | None,
    dialect: str,
    *,
    default_catalog: str | None = None,
    default_schema: str | None = None,
) -> TableColumns:
    """A schema file's tables spelled as extract() spells them for this dialect and
    these defaults: what the corpus catalog consults before its own definitions."""
    naming = Naming.build(Dialect.get_or_raise(dialect), default_catalog, default_schema)
    return explicit_columns(schema, naming)


def _decode(data: str | bytes) -> tuple[str, str | None]:
    """Text of a file. Invalid UTF-8 is decoded with U+FFFD replacements and reported
    as a file-level error, so the readable statements still produce lineage."""
    if isinstance(data, str):
        return data, None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), None  # SSMS saves UTF-16 with BOM
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8-sig", errors="replace")
        return text, f"invalid UTF-8 at byte {exc.start}; decoded with replacement characters"
