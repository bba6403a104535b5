"""Validate OpenLineage events against JSON schemas written here for the parts of the
OpenLineage 2-0-2 object model that lineaged emits (RunEvent, datasets, and the
schema / columnLineage / jobType / errorMessage / extractionError facets).

openlineage-python ships no JSON schemas (only classes generated from them), and the
spec repository's files are not ours to commit, so the required fields, types, enums
and formats below are restated from the specification's documentation. The facet
schema URLs are checked against the ones openlineage-python itself emits
(tests/test_export_openlineage.py), so a client on a newer spec shows up as a failure.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from lineaged.export.openlineage import (
    COLUMN_LINEAGE_FACET,
    ERROR_FACET,
    EXTRACTION_ERROR_FACET,
    JOB_TYPE_FACET,
    SCHEMA_FACET,
)

_URI = {"type": "string", "format": "uri"}
_STR = {"type": "string"}
_INT = {"type": "integer"}


def _obj(required: list[str], props: dict[str, Any], *, extra: bool = True) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": props,
        "additionalProperties": extra,
    }


_FACET_BASE = {"_producer": _URI, "_schemaURL": _URI}
_FACETS = {"type": "object", "additionalProperties": _obj(["_producer", "_schemaURL"], {})}
_DATASET = _obj(["namespace", "name"], {"namespace": _STR, "name": _STR, "facets": _FACETS})

RUN_EVENT = _obj(
    ["eventTime", "producer", "schemaURL", "run", "job"],
    {
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": _URI,
        "schemaURL": _URI,
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "run": _obj(["runId"], {"runId": {"type": "string", "format": "uuid"}, "facets": _FACETS}),
        "job": _obj(["namespace", "name"], {"namespace": _STR, "name": _STR, "facets": _FACETS}),
        "inputs": {"type": "array", "items": _DATASET},
        "outputs": {"type": "array", "items": _DATASET},
    },
)

_TRANSFORMATION = _obj(
    ["type"],
    {"type": _STR, "subtype": _STR, "description": _STR, "masking": {"type": "boolean"}},
)
_INPUT_FIELD = _obj(
    ["namespace", "name", "field"],
    {
        "namespace": _STR,
        "name": _STR,
        "field": _STR,
        "transformations": {"type": "array", "items": _TRANSFORMATION},
    },
)
_SCHEMA_FIELD: dict[str, Any] = _obj(
    ["name"], {"name": _STR, "type": _STR, "description": _STR, "ordinal_position": _INT}
)

# facet key -> (the facet's schema URL as lineaged writes it, the facet's JSON schema)
FACETS: dict[str, tuple[str, dict[str, Any]]] = {
    "schema": (
        SCHEMA_FACET,
        _obj(["fields"], {**_FACET_BASE, "fields": {"type": "array", "items": _SCHEMA_FIELD}}),
    ),
    "columnLineage": (
        COLUMN_LINEAGE_FACET,
        _obj(
            ["fields"],
            {
                **_FACET_BASE,
                "fields": {
                    "type": "object",
                    "additionalProperties": _obj(
                        ["inputFields"],
                        {"inputFields": {"type": "array", "items": _INPUT_FIELD}},
                    ),
                },
                "dataset": {"type": "array", "items": _INPUT_FIELD},
            },
        ),
    ),
    "jobType": (
        JOB_TYPE_FACET,
        _obj(
            ["processingType", "integration"],
            {**_FACET_BASE, "processingType": _STR, "integration": _STR, "jobType": _STR},
        ),
    ),
    "errorMessage": (
        ERROR_FACET,
        _obj(
            ["message", "programmingLanguage"],
            {**_FACET_BASE, "message": _STR, "programmingLanguage": _STR, "stackTrace": _STR},
        ),
    ),
    "extractionError": (
        EXTRACTION_ERROR_FACET,
        _obj(
            ["errors"],
            {
                **_FACET_BASE,
                "totalTasks": _INT,
                "failedTasks": _INT,
                "errors": {
                    "type": "array",
                    "items": _obj(
                        ["errorMessage"],
                        {
                            "errorMessage": _STR,
                            "stackTrace": _STR,
                            "task": _STR,
                            "taskNumber": _INT,
                        },
                    ),
                },
            },
        ),
    ),
}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def facet_schema_urls() -> dict[str, str]:
    """facet key -> the schema URL lineaged writes on it."""
    return {key: url for key, (url, _) in FACETS.items()}


def validate_run_event(event: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if the event or any of its facets is invalid."""
    _validator(RUN_EVENT).validate(event)
    facets: list[tuple[str, dict[str, Any]]] = []
    facets += event["run"].get("facets", {}).items()
    facets += event["job"].get("facets", {}).items()
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        facets += dataset.get("facets", {}).items()
    for key, facet in facets:
        if key not in FACETS:
            raise AssertionError(f"facet {key!r} has no schema in tests/ol_schema.py")
        url, schema = FACETS[key]
        assert facet["_schemaURL"] == url, (key, facet["_schemaURL"])
        _validator(schema).validate(facet)
