"""The dialect names sqlglot knows, without importing sqlglot.

Loading settings validates each root's dialect, and every CLI command loads settings;
importing sqlglot for this list cost `lineaged --help`, `status` and `lineage` most of
their start-up (~70 ms of ~200 ms on an idle machine, much more under load).
tests/test_dialect_names.py checks the list against the pinned sqlglot's `Dialects`.
"""

from __future__ import annotations

SQLGLOT_DIALECTS = frozenset(
    {
        "athena",
        "bigquery",
        "clickhouse",
        "databricks",
        "dax",
        "doris",
        "dremio",
        "drill",
        "druid",
        "duckdb",
        "dune",
        "exasol",
        "fabric",
        "hive",
        "materialize",
        "mysql",
        "oracle",
        "postgres",
        "presto",
        "prql",
        "redshift",
        "risingwave",
        "snowflake",
        "solr",
        "spark",
        "spark2",
        "sqlite",
        "starrocks",
        "tableau",
        "teradata",
        "trino",
        "tsql",
    }
)
