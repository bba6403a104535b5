"""The golden corpus: `<dialect>/<case>.sql` next to `<case>.json`.

Expected JSON (hand-checked; compact so that it can be read and written by hand):

    {"options": {"schema": {...}, "default_schema": "x"},      # optional
     "statements": [
       {"kind": "insert", "targets": [...], "sources": [...], "temp_targets": [...],
        "unresolved": [...], "error": false,
        "columns": {"dw.t.a": {"IDENTITY": ["s.x.a"], "CONDITIONAL": ["s.x.c"]}},
        "indirect": {"JOIN": ["s.x.id", "s.y.id"], "FILTER": [...]}}]}

Omitted keys mean empty. Transform names drop their DIRECT/ or INDIRECT/ prefix.
`indirect` holds the statement-level indirect edges (JOIN, FILTER, GROUP_BY, SORT and
those coming from CTEs/subqueries) and applies to every column listed in `columns`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lineaged.model import FileLineage

ROOT = Path(__file__).parent
DIRECT = {"IDENTITY", "TRANSFORMATION", "AGGREGATION"}
# Known failures: constructs beyond what sqlglot parses (or what we resolve); the
# expected files stay right and the scorer counts them against us.
KNOWN_FAILURES: dict[str, str] = {}
AUDIT = ROOT / "audit"
# Same, for the held-out audit set (audit/<dialect>/<case>): expectations written by hand
# from the SQL's semantics before the extractor was run on them.
AUDIT_KNOWN_FAILURES: dict[str, str] = {}
BLIND = ROOT / "blind"
# Same, for the blind set (blind/<dialect>/<case>): written by hand before the extractor
# was run on them and never used to change it; filled in from the first run.
BLIND_KNOWN_FAILURES: dict[str, str] = {
    "blind/bigquery/struct_fields_rollup": (
        "unqualified struct field access (device.operating_system) is read as alias.column"
        " and left unresolved, so os/country and the ROLLUP grouping on them have no edges"
    ),
    "blind/bigquery/merge_insert_row_by_source": (
        "MERGE ... WHEN NOT MATCHED THEN INSERT ROW is not expanded (even with a schema):"
        " product_id gets no edge"
    ),
    "blind/snowflake/insert_all_conditional": (
        "multi-table INSERT ALL WHEN ... THEN INTO ... ELSE INTO ... SELECT is kind"
        " 'other' with no targets, sources or columns"
    ),
    "blind/mysql/json_table_lateral": (
        "JSON_TABLE(o.tags, ... COLUMNS (tag ...)) output columns are not traced:"
        " tag gets no edge from shop.orders.tags"
    ),
    "blind/mysql/on_duplicate_key_accumulate": (
        "ON DUPLICATE KEY UPDATE qty = stock_levels.qty + VALUES(qty): the target's"
        " own prior qty (TRANSFORMATION) is not reported"
    ),
    "blind/mysql/replace_into_scalar_subqueries": (
        "REPLACE INTO ... SELECT is kind 'other' with no targets, sources or columns"
    ),
    "blind/postgres/aggregate_filter_grouping_sets": (
        "aggregate FILTER (WHERE status = ...) is reported as DIRECT/TRANSFORMATION of"
        " status; it only selects rows (expected INDIRECT/FILTER on that column)"
    ),
    "blind/postgres/data_modifying_cte_archive": (
        "WITH moved AS (DELETE ... RETURNING ...) INSERT ... SELECT FROM moved: the CTE"
        " is read as a table 'moved'; app.sessions is neither source nor target"
    ),
    "blind/snowflake/qualify_on_aggregate_alias": (
        "lateral alias total_spend inside RANK() OVER (ORDER BY total_spend) is"
        " unresolved, so SPEND_RANK and the QUALIFY filter lose RAW.ORDERS.AMOUNT"
    ),
    "blind/mysql/view_using_case": (
        "USING column under LEFT JOIN is reported as a TRANSFORMATION of both sides;"
        " semantically it is the left side's column (IDENTITY)"
    ),
    "blind/snowflake/lateral_column_alias": (
        "lateral column alias (margin reused in the same SELECT) is not expanded:"
        " MARGIN is unresolved and MARGIN_PCT loses its COST source"
    ),
}


@dataclass(frozen=True)
class Case:
    dialect: str
    name: str
    sql: Path
    expected: Path
    prefix: str = ""

    @property
    def id(self) -> str:
        return f"{self.prefix}{self.dialect}/{self.name}"

    def load(self) -> dict:
        return json.loads(self.expected.read_text())


def cases() -> list[Case]:
    """The original corpus (<dialect>/<case>; audit/ is one level deeper and not in it)."""
    out = []
    for sql in sorted(ROOT.glob("*/*.sql")):
        out.append(Case(sql.parent.name, sql.stem, sql, sql.with_suffix(".json")))
    return out


def audit_cases() -> list[Case]:
    """The held-out audit set: audit/<dialect>/<case>."""
    return [
        Case(sql.parent.name, sql.stem, sql, sql.with_suffix(".json"), prefix="audit/")
        for sql in sorted(AUDIT.glob("*/*.sql"))
    ]


def blind_cases() -> list[Case]:
    """The blind set: blind/<dialect>/<case>, held out from extractor fixes."""
    return [
        Case(sql.parent.name, sql.stem, sql, sql.with_suffix(".json"), prefix="blind/")
        for sql in sorted(BLIND.glob("*/*.sql"))
    ]


def full_transform(short: str) -> str:
    return f"{'DIRECT' if short in DIRECT else 'INDIRECT'}/{short}"


def expected_edges(stmt: dict) -> set[tuple[str, str, str]]:
    """(target column, source column, transform) triples a statement should yield."""
    edges = set()
    for target, by_transform in stmt.get("columns", {}).items():
        merged = {k: set(v) for k, v in by_transform.items()}
        for short, sources in stmt.get("indirect", {}).items():
            merged.setdefault(short, set()).update(sources)
        for short, sources in merged.items():
            edges.update((target, s, full_transform(short)) for s in sources)
    return edges


def actual_edges(stmt) -> set[tuple[str, str, str]]:
    return {(e.target, s, e.transform) for e in stmt.expanded_columns() for s in e.sources}


def compact(result: FileLineage) -> list[dict]:
    """A FileLineage in the corpus's compact shape (used to draft and to compare)."""
    out = []
    for s in result.statements:
        per_target: dict[str, dict[str, set[str]]] = {}
        for e in s.expanded_columns():
            short = e.transform.split("/", 1)[1]
            per_target.setdefault(e.target, {}).setdefault(short, set()).update(e.sources)
        shared = _shared_indirect(per_target)
        columns = {}
        for target, by in sorted(per_target.items()):
            own = {}
            for short, srcs in sorted(by.items()):
                rest = srcs - shared.get(short, set())
                if rest:
                    own[short] = sorted(rest)
            columns[target] = own
        stmt = {
            "kind": s.kind,
            "targets": list(s.targets),
            "sources": list(s.sources),
            "temp_targets": list(s.temp_targets),
            "unresolved": list(s.unresolved),
            "error": s.error is not None,
            "columns": columns,
            "indirect": {k: sorted(v) for k, v in sorted(shared.items())},
        }
        out.append({k: v for k, v in stmt.items() if v not in ([], {}, False)} | {"kind": s.kind})
    return out


def _shared_indirect(per_target: dict[str, dict[str, set[str]]]) -> dict[str, set[str]]:
    if not per_target:
        return {}
    shared: dict[str, set[str]] | None = None
    for by in per_target.values():
        ind = {k: set(v) for k, v in by.items() if k not in DIRECT}
        if shared is None:
            shared = ind
        else:
            shared = {k: shared[k] & ind[k] for k in shared.keys() & ind.keys()}
    return {k: v for k, v in (shared or {}).items() if v}


def normalised(stmts: list[dict]) -> list[dict]:
    """Expected or actual compact statements in a comparable form."""
    out = []
    for s in stmts:
        out.append(
            {
                "kind": s["kind"],
                "targets": sorted(s.get("targets", [])),
                "sources": sorted(s.get("sources", [])),
                "temp_targets": sorted(s.get("temp_targets", [])),
                "unresolved": sorted(s.get("unresolved", [])),
                "error": bool(s.get("error", False)),
                "edges": sorted(expected_edges(s)),
            }
        )
    return out
