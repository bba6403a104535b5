"""Dialect names: what a person may type for one (`mssql`) and what sqlglot calls it."""

from __future__ import annotations

import difflib

from lineaged.dialect_names import SQLGLOT_DIALECTS

# Common names that are not sqlglot's.
ALIASES = {
    "mssql": "tsql",
    "sqlserver": "tsql",
    "sql-server": "tsql",
    "azuresql": "tsql",
    "synapse": "tsql",
    "t-sql": "tsql",
    "postgresql": "postgres",
    "pg": "postgres",
    "psql": "postgres",
    "bq": "bigquery",
    "sparksql": "spark",
    "spark-sql": "spark",
    "pyspark": "spark",
    "mariadb": "mysql",
    "plsql": "oracle",
    "sf": "snowflake",
    "hiveql": "hive",
    "mssqlserver": "tsql",
}


def known_dialects() -> tuple[str, ...]:
    """Dialect names accepted by extract() (sqlglot's, minus the generic base)."""
    return tuple(sorted(SQLGLOT_DIALECTS))


def unknown_dialect_message(name: str) -> str:
    """One line: what was wrong, the likely meaning, and every valid name."""
    valid = known_dialects()
    guess = ALIASES.get(name.lower()) or next(
        iter(difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.6)), None
    )
    hint = f"; did you mean {guess!r}?" if guess else ""
    return f"unknown dialect {name!r}{hint} (valid: {', '.join(valid)})"
