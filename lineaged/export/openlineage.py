"""FileRecord → OpenLineage RunEvent (a plain dict, ready for JSON). Pure.

One file is one job (`<root>:<path>` in a configurable namespace) and its last
ingestion one run: inputs are the tables its statements read, outputs the tables they
write. Each output carries
- `schema`: the columns the file writes into it (names only: SQL files say no types);
- `columnLineage`: per column, the input fields with their transformations
  (type/subtype, e.g. DIRECT/AGGREGATION or INDIRECT/CONDITIONAL), and in the
  dataset-level `dataset` list the statement-wide influence (JOIN, FILTER, GROUP_BY,
  SORT) of the statements writing it, once per source field and transform.

The run id is derived from the job and the content hash, so exporting the same graph
twice gives the same events (consumers such as Marquez treat a repeat as an update).
Schema URLs are the spec versions openlineage-python 1.54 emits (tested).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from lineaged import __version__
from lineaged.export.records import ColumnRef, FileRecord, StatementRecord

SPEC = "https://openlineage.io/spec"
RUN_EVENT_SCHEMA = f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
SCHEMA_FACET = f"{SPEC}/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
COLUMN_LINEAGE_FACET = (
    f"{SPEC}/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
)
JOB_TYPE_FACET = f"{SPEC}/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
ERROR_FACET = f"{SPEC}/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
EXTRACTION_ERROR_FACET = (
    f"{SPEC}/facets/1-1-2/ExtractionErrorRunFacet.json#/$defs/ExtractionErrorRunFacet"
)

DEFAULT_NAMESPACE = "lineaged"
PRODUCER = f"urn:lineaged:{__version__}"
# Fixed namespace for uuid5 run ids (any constant UUID would do; this one is ours).
_RUN_ID_NAMESPACE = uuid.UUID("6f1c2f2e-9a43-5f0e-8c55-6c696e656167")


def run_event(
    record: FileRecord,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    dataset_namespace: str | None = None,
    producer: str = PRODUCER,
) -> dict[str, Any]:
    """The RunEvent of one file. `dataset_namespace` defaults to `namespace`."""
    ds_ns = dataset_namespace or namespace
    job_name = record.id
    run_facets: dict[str, Any] = {}
    if record.error:
        run_facets["errorMessage"] = _facet(
            producer, ERROR_FACET, message=record.error, programmingLanguage="SQL"
        )
    failed = [s for s in record.statements if s.error]
    if failed:
        run_facets["extractionError"] = _facet(
            producer,
            EXTRACTION_ERROR_FACET,
            totalTasks=len(record.statements),
            failedTasks=len(failed),
            errors=[{"errorMessage": s.error, "taskNumber": s.index} for s in failed],
        )
    return {
        "eventType": "FAIL" if record.error else "COMPLETE",
        "eventTime": record.ingested_at,
        "producer": producer,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id(namespace, record), "facets": run_facets},
        "job": {
            "namespace": namespace,
            "name": job_name,
            "facets": {
                "jobType": _facet(
                    producer,
                    JOB_TYPE_FACET,
                    processingType="BATCH",
                    integration="LINEAGED",
                    jobType="SQL_FILE",
                )
            },
        },
        "inputs": [
            {"namespace": ds_ns, "name": table}
            for table in sorted({t for s in record.statements for t in s.reads})
        ],
        "outputs": [
            _output(table, writers, ds_ns, producer)
            for table, writers in sorted(_writers(record.statements).items())
        ],
    }


def run_events(records: Iterable[FileRecord], **options: Any) -> Iterable[dict[str, Any]]:
    for record in records:
        yield run_event(record, **options)


def run_id(namespace: str, record: FileRecord) -> str:
    content = record.sha256 or f"error:{record.error}"
    return str(uuid.uuid5(_RUN_ID_NAMESPACE, f"{namespace}\0{record.id}\0{content}"))


def _writers(statements: Iterable[StatementRecord]) -> dict[str, list[StatementRecord]]:
    by_table: dict[str, list[StatementRecord]] = defaultdict(list)
    for st in statements:
        for table in st.writes:
            by_table[table].append(st)
    return by_table


def _output(
    table: str, writers: list[StatementRecord], ds_ns: str, producer: str
) -> dict[str, Any]:
    columns: set[str] = set()
    # column -> (source) -> transforms; a source feeding one column in two ways (a
    # value and a CASE condition) is one input field with two transformations.
    inputs: dict[str, dict[ColumnRef, set[str]]] = defaultdict(lambda: defaultdict(set))
    influence: dict[ColumnRef, set[str]] = defaultdict(set)
    for st in writers:
        columns.update(c.name for c in st.target_columns if c.table == table)
        for edge in st.column_inputs:
            if edge.target.table == table:
                columns.add(edge.target.name)
                inputs[edge.target.name][edge.source].add(edge.transform)
        for inf in st.influences:
            influence[inf.source].add(inf.transform)
    facets: dict[str, Any] = {}
    if columns:
        facets["schema"] = _facet(
            producer, SCHEMA_FACET, fields=[{"name": c} for c in sorted(columns)]
        )
    if inputs or influence:
        facets["columnLineage"] = _facet(
            producer,
            COLUMN_LINEAGE_FACET,
            fields={
                col: {"inputFields": _input_fields(inputs[col], ds_ns)} for col in sorted(inputs)
            },
            dataset=_input_fields(influence, ds_ns),
        )
    return {"namespace": ds_ns, "name": table, "facets": facets}


def _input_fields(sources: dict[ColumnRef, set[str]], ds_ns: str) -> list[dict[str, Any]]:
    return [
        {
            "namespace": ds_ns,
            "name": src.table,
            "field": src.name,
            "transformations": [_transformation(t) for t in sorted(sources[src])],
        }
        for src in sorted(sources)
    ]


def _transformation(transform: str) -> dict[str, Any]:
    kind, _, subtype = transform.partition("/")
    out: dict[str, Any] = {"type": kind, "subtype": subtype} if subtype else {"type": kind}
    # We never know that a transformation masks data (hashing etc. is not modelled).
    out["masking"] = False
    return out


def _facet(producer: str, schema_url: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": schema_url, **fields}
