"""Validate OpenLineage events against the spec's JSON schemas (tests/openlineage_spec/).

The RunEvent is checked against OpenLineage.json; each facet we emit against its own
facet schema (the core schema only knows facets as "some object with _producer and
_schemaURL"). Formats (uri, uuid, date-time) are checked too.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SPEC_DIR = Path(__file__).resolve().parent / "openlineage_spec"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"

# facet key -> schema file name (the file's root schema has `properties.<key>`)
FACET_FILES = {
    "schema": "SchemaDatasetFacet.json",
    "columnLineage": "ColumnLineageDatasetFacet.json",
    "jobType": "JobTypeJobFacet.json",
    "errorMessage": "ErrorMessageRunFacet.json",
    "extractionError": "ExtractionErrorRunFacet.json",
}


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in SPEC_DIR.glob("*.json")}


@cache
def _registry() -> Registry:
    resources = [(s["$id"], Resource.from_contents(s)) for s in _schemas().values()]
    return Registry().with_resources(resources)


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def facet_schema_urls() -> dict[str, str]:
    """facet key -> the $id-based schema URL of its definition."""
    out = {}
    for key, name in FACET_FILES.items():
        schema = _schemas()[name]
        ref = schema["properties"][key]["$ref"]  # "#/$defs/<Name>"
        out[key] = schema["$id"] + ref
    return out


def validate_run_event(event: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if the event or any of its facets is invalid."""
    _validator({"$ref": f"{CORE}#/$defs/RunEvent"}).validate(event)
    facets: list[tuple[str, dict[str, Any]]] = []
    facets += event["run"].get("facets", {}).items()
    facets += event["job"].get("facets", {}).items()
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        facets += dataset.get("facets", {}).items()
    urls = facet_schema_urls()
    for key, facet in facets:
        if key not in FACET_FILES:
            raise AssertionError(f"facet {key!r} has no schema in tests/openlineage_spec")
        assert facet["_schemaURL"] == urls[key], (key, facet["_schemaURL"])
        _validator(_schemas()[FACET_FILES[key]]).validate({key: facet})
