"""Datasets that are not tables: files, directories, stages and URIs.

A location read or written by COPY, UNLOAD, `INSERT OVERWRITE DIRECTORY` or a Spark
``format.`path` `` source is a dataset named `path:<location>`, exactly as written
(never folded, never prefixed with a default schema), so it cannot be mistaken for a
table and a Cypher query can find it: `WHERE t.name STARTS WITH 'path:'`.

The rewrite happens on the parsed tree, before any name is derived: each such source
becomes an ordinary `exp.Table` whose single quoted identifier is the `path:` name.
"""

from __future__ import annotations

from sqlglot import exp

PATH_PREFIX = "path:"
# Spark/Databricks/Hive `SELECT ... FROM parquet.`/data/x`` (the "database" names a
# file format and the quoted "table" is a path).
FILE_FORMATS = frozenset(
    {"parquet", "csv", "json", "orc", "avro", "delta", "text", "binaryfile", "iceberg"}
)
_PATH_DIALECTS = frozenset({"Spark", "Spark2", "Databricks", "Hive"})


def is_path_name(name: str) -> bool:
    return name.startswith(PATH_PREFIX)


def path_table(location: str) -> exp.Table:
    return exp.Table(this=exp.Identifier(this=f"{PATH_PREFIX}{location}", quoted=True))


def mark_datasets(tree: exp.Expr, dialect_name: str) -> exp.Expr:
    """Turn file/stage/URI sources into `path:` tables, and a Snowflake
    `SEMANTIC_VIEW(t ...)` into the table it reads."""
    for table in list(tree.find_all(exp.Table)):
        location = _location(table, dialect_name)
        if location is not None:
            _replace_name(table, path_table(location))
        elif isinstance(table.this, exp.SemanticView) and isinstance(table.this.this, exp.Table):
            _replace_name(table, table.this.this)
    return tree


def _location(table: exp.Table, dialect_name: str) -> str | None:
    this = table.this
    if isinstance(this, exp.Var) and this.name.startswith("@"):
        return this.name  # Snowflake stage: @stage/dir/file.csv
    if isinstance(this, exp.Literal) and this.is_string:
        return this.name  # COPY INTO t FROM 's3://bucket/key'
    if (
        dialect_name in _PATH_DIALECTS
        and isinstance(this, exp.Identifier)
        and this.quoted
        and table.db.lower() in FILE_FORMATS
        and not table.catalog
    ):
        return this.name
    return None


def _replace_name(table: exp.Table, source: exp.Table) -> None:
    for part in ("this", "db", "catalog"):
        value = source.args.get(part)
        table.set(part, value.copy() if value is not None else None)
