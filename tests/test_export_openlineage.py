"""OpenLineage events built from FileRecords (lineaged/export/openlineage.py), the
graph-row folding (graph_read.statement_record) and `--since` parsing; no Neo4j.
The end-to-end export on the examples is tests/integration/test_export_openlineage.py."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime

import jsonschema
import pytest
from ol_schema import facet_schema_urls, validate_run_event

from lineaged.cli.export import parse_since
from lineaged.export.graph_read import statement_record
from lineaged.export.openlineage import RUN_EVENT_SCHEMA, run_event, run_id
from lineaged.export.records import (
    ColumnInput,
    ColumnRef,
    FileRecord,
    Influence,
    StatementRecord,
)

T = "marts.orders"


def col(table: str, name: str) -> ColumnRef:
    return ColumnRef(table, name)


def statement(index: int = 0, **kw: object) -> StatementRecord:
    base: dict[str, object] = {
        "index": index,
        "kind": "insert",
        "error": None,
        "reads": ("raw.orders", "raw.customers"),
        "writes": (T,),
    }
    return StatementRecord(**{**base, **kw})  # type: ignore[arg-type]


def record(*statements: StatementRecord, error: str | None = None) -> FileRecord:
    return FileRecord(
        root="shop",
        path="marts/orders.sql",
        sha256="ab" * 32,
        dialect="postgres",
        ingested_at="2026-12-01T10:00:00.123456789Z",
        error=error,
        statements=statements,
    )


ORDERS = statement(
    target_columns=(col(T, "id"), col(T, "loaded_at")),
    column_inputs=(
        ColumnInput(col(T, "id"), col("raw.orders", "id"), "DIRECT/IDENTITY"),
        ColumnInput(col(T, "total"), col("raw.orders", "amount"), "DIRECT/AGGREGATION"),
        # The same source in a CASE condition of the same column: one input field,
        # two transformations.
        ColumnInput(col(T, "total"), col("raw.orders", "amount"), "INDIRECT/CONDITIONAL"),
    ),
    influences=(
        Influence(col("raw.customers", "id"), "INDIRECT/JOIN"),
        Influence(col("raw.orders", "customer_id"), "INDIRECT/JOIN"),
        Influence(col("raw.orders", "status"), "INDIRECT/FILTER"),
    ),
)


def test_run_event_shape_and_schema_valid() -> None:
    event = run_event(record(ORDERS), namespace="wh")
    validate_run_event(event)
    assert event["eventType"] == "COMPLETE"
    assert event["schemaURL"] == RUN_EVENT_SCHEMA
    assert event["eventTime"] == "2026-12-01T10:00:00.123456789Z"
    assert event["job"]["namespace"] == "wh"
    assert event["job"]["name"] == "shop:marts/orders.sql"
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        ("wh", "raw.customers"),
        ("wh", "raw.orders"),
    ]
    (out,) = event["outputs"]
    assert out["name"] == T
    # Every written column, with or without inputs of its own.
    assert [f["name"] for f in out["facets"]["schema"]["fields"]] == ["id", "loaded_at", "total"]
    lineage = out["facets"]["columnLineage"]
    assert lineage["fields"] == {
        "id": {
            "inputFields": [
                {
                    "namespace": "wh",
                    "name": "raw.orders",
                    "field": "id",
                    "transformations": [
                        {"type": "DIRECT", "subtype": "IDENTITY", "masking": False}
                    ],
                }
            ]
        },
        "total": {
            "inputFields": [
                {
                    "namespace": "wh",
                    "name": "raw.orders",
                    "field": "amount",
                    "transformations": [
                        {"type": "DIRECT", "subtype": "AGGREGATION", "masking": False},
                        {"type": "INDIRECT", "subtype": "CONDITIONAL", "masking": False},
                    ],
                }
            ]
        },
    }
    assert [
        (d["name"], d["field"], d["transformations"][0]["subtype"]) for d in lineage["dataset"]
    ] == [
        ("raw.customers", "id", "JOIN"),
        ("raw.orders", "customer_id", "JOIN"),
        ("raw.orders", "status", "FILTER"),
    ]


def test_dataset_list_is_per_output_and_deduplicated_across_statements() -> None:
    again = statement(
        1,
        influences=(
            Influence(col("raw.orders", "status"), "INDIRECT/FILTER"),  # same as ORDERS
            Influence(col("raw.orders", "status"), "INDIRECT/GROUP_BY"),
        ),
    )
    other = statement(
        2,
        writes=("marts.other",),
        influences=(Influence(col("raw.x", "k"), "INDIRECT/SORT"),),
    )
    event = run_event(record(ORDERS, again, other))
    validate_run_event(event)
    outputs = {o["name"]: o for o in event["outputs"]}
    dataset = outputs[T]["facets"]["columnLineage"]["dataset"]
    status = [d for d in dataset if d["field"] == "status"]
    assert len(status) == 1
    assert [t["subtype"] for t in status[0]["transformations"]] == ["FILTER", "GROUP_BY"]
    # The other statement's influence is not this output's.
    assert all(d["name"] != "raw.x" for d in dataset)
    other_lineage = outputs["marts.other"]["facets"]["columnLineage"]
    assert other_lineage == {
        **other_lineage,
        "fields": {},
        "dataset": [
            {
                "namespace": "lineaged",
                "name": "raw.x",
                "field": "k",
                "transformations": [{"type": "INDIRECT", "subtype": "SORT", "masking": False}],
            }
        ],
    }
    assert "schema" not in outputs["marts.other"]["facets"]


def test_dataset_namespace_separate_from_job_namespace() -> None:
    event = run_event(record(ORDERS), namespace="jobs", dataset_namespace="postgres://wh")
    assert event["job"]["namespace"] == "jobs"
    assert {d["namespace"] for d in event["inputs"] + event["outputs"]} == {"postgres://wh"}
    fields = event["outputs"][0]["facets"]["columnLineage"]["fields"]["id"]["inputFields"]
    assert fields[0]["namespace"] == "postgres://wh"


def test_file_and_statement_errors_become_run_facets() -> None:
    failed = run_event(record(error="cannot decode as utf-8"))
    validate_run_event(failed)
    assert failed["eventType"] == "FAIL"
    assert failed["run"]["facets"]["errorMessage"]["message"] == "cannot decode as utf-8"
    assert failed["outputs"] == [] and failed["inputs"] == []

    partial = run_event(record(ORDERS, statement(1, error="line 3, column 7: bad", writes=())))
    validate_run_event(partial)
    assert partial["eventType"] == "COMPLETE"
    facet = partial["run"]["facets"]["extractionError"]
    assert (facet["totalTasks"], facet["failedTasks"]) == (2, 1)
    assert facet["errors"] == [{"errorMessage": "line 3, column 7: bad", "taskNumber": 1}]


def test_run_id_is_stable_per_content() -> None:
    a, b = record(ORDERS), record(ORDERS)
    assert run_id("ns", a) == run_id("ns", b)
    changed = dataclasses.replace(a, sha256="cd" * 32)
    assert run_id("ns", changed) != run_id("ns", a)
    assert run_id("other", a) != run_id("ns", a)


def test_invalid_event_is_caught_by_the_schema() -> None:
    """The validator is not a rubber stamp: a broken event fails it."""
    event = run_event(record(ORDERS))
    del event["run"]["runId"]
    with pytest.raises(jsonschema.ValidationError):
        validate_run_event(event)
    event = run_event(record(ORDERS))
    event["outputs"][0]["facets"]["columnLineage"]["dataset"][0].pop("field")
    with pytest.raises(jsonschema.ValidationError):
        validate_run_event(event)


def test_schema_urls_are_the_official_clients() -> None:
    """openlineage-python (pinned) emits these spec versions; the vendored schemas are
    the same versions, so a client upgrade to a newer spec fails here first."""
    from openlineage.client.event_v2 import RunEvent
    from openlineage.client.generated import (
        column_lineage_dataset,
        error_message_run,
        extraction_error_run,
        job_type_job,
        schema_dataset,
    )

    assert RunEvent._get_schema() == RUN_EVENT_SCHEMA
    assert facet_schema_urls() == {
        "schema": schema_dataset.SchemaDatasetFacet._get_schema(),
        "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet._get_schema(),
        "jobType": job_type_job.JobTypeJobFacet._get_schema(),
        "errorMessage": error_message_run.ErrorMessageRunFacet._get_schema(),
        "extractionError": extraction_error_run.ExtractionErrorRunFacet._get_schema(),
    }


def test_statement_record_folds_model1_copies_into_one_influence() -> None:
    """Model 1 stored a JOIN source on every target column; the export states it once."""
    row = {
        "index": 0,
        "kind": "insert",
        "error": None,
        "reads": ["raw.b", "raw.a"],
        "writes": [T],
        "target_columns": [],
        "influences": [],
    }
    edges = [
        {
            "target_table": T,
            "target": c,
            "source_table": "raw.b",
            "source": "id",
            "transform": "INDIRECT/JOIN",
        }
        for c in ("x", "y")
    ] + [
        {
            "target_table": T,
            "target": "x",
            "source_table": "raw.a",
            "source": "x",
            "transform": "DIRECT/IDENTITY",
        }
    ]
    st = statement_record(row, edges)
    assert st.reads == ("raw.a", "raw.b")
    assert st.influences == (Influence(col("raw.b", "id"), "INDIRECT/JOIN"),)
    assert st.column_inputs == (ColumnInput(col(T, "x"), col("raw.a", "x"), "DIRECT/IDENTITY"),)
    assert st.target_columns == (col(T, "x"), col(T, "y"))


def test_statement_record_reads_model2_influence_and_written_columns() -> None:
    row = {
        "index": 3,
        "kind": "insert",
        "error": None,
        "reads": ["raw.b"],
        "writes": [T],
        "target_columns": [[T, "x"], [T, "const"]],
        "influences": [["raw.b", "id", "INDIRECT/JOIN"], ["raw.b", "flag", "INDIRECT/FILTER"]],
    }
    st = statement_record(row, [])
    assert st.target_columns == (col(T, "const"), col(T, "x"))
    assert st.influences == (
        Influence(col("raw.b", "flag"), "INDIRECT/FILTER"),
        Influence(col("raw.b", "id"), "INDIRECT/JOIN"),
    )


def test_parse_since() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now) == "2026-12-01T10:00:00+00:00"
    assert parse_since("7d", now) == "2026-11-24T12:00:00+00:00"
    assert parse_since("2026-12-01T08:00:00Z") == "2026-12-01T08:00:00+00:00"
    assert parse_since("2026-12-01") == "2026-12-01T00:00:00+00:00"
    assert parse_since("2026-12-01T09:00:00+01:00") == "2026-12-01T08:00:00+00:00"
    with pytest.raises(argparse.ArgumentTypeError):
        parse_since("yesterday")
