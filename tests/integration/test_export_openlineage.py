"""`lineaged export --openlineage` on the bundled examples, against the real Neo4j.

The events must be valid OpenLineage and say exactly what the graph says. The expected
lineage is derived here independently, from extracting each example file (which is
what `lineaged scan` wrote into the graph), never from the exporter's own reads.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from ol_schema import validate_run_event

from lineaged.export.records import STATEMENT_WIDE

from .configs import neo4j_env
from .examples_graph import examples_lineage, run_lineaged, scan_examples


def _export(server: Any, out: Path, *args: str) -> list[dict[str, Any]]:
    proc = run_lineaged(neo4j_env(server), "export", "--openlineage", "-o", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    return [orjson.loads(line) for line in out.read_text().splitlines()]


def _per_column_view(st: Any) -> tuple[Any, ...]:
    # Extraction before graph model 2 lists statement-wide edges on every column in
    # `columns`; model 2 keeps them in `indirect` and expanded_columns() copies them.
    expanded = getattr(st, "expanded_columns", None)
    return expanded() if expanded else st.columns


def _expected() -> dict[str, dict[str, Any]]:
    """job name → {inputs, outputs: {table: {fields: {col: {(src, transform)}},
    dataset: {(src, transform)}}}} from what extraction gives each example file."""
    jobs: dict[str, dict[str, Any]] = {}
    for file_id, lineage in examples_lineage().items():
        outputs: dict[str, Any] = defaultdict(
            lambda: {"fields": defaultdict(set), "dataset": set()}
        )
        inputs: set[str] = set()
        for st in lineage.statements:
            inputs |= set(st.sources)
            for edge in _per_column_view(st):
                table, _, column = edge.target.rpartition(".")
                out = outputs[table]
                for src in edge.sources:
                    if edge.transform in STATEMENT_WIDE:
                        out["dataset"].add((src, edge.transform))
                    else:
                        out["fields"][column].add((src, edge.transform))
            for table in st.targets:
                outputs[table]  # a target without column lineage is still an output
        jobs[file_id] = {
            "inputs": inputs,
            "outputs": {
                t: {"fields": dict(o["fields"]), "dataset": o["dataset"]}
                for t, o in outputs.items()
            },
        }
    return jobs


def _field_set(input_fields: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (f"{f['name']}.{f['field']}", f"{t['type']}/{t['subtype']}")
        for f in input_fields
        for t in f["transformations"]
    }


def _actual(event: dict[str, Any]) -> dict[str, Any]:
    outputs = {}
    for out in event["outputs"]:
        lineage = out["facets"].get("columnLineage", {"fields": {}, "dataset": []})
        outputs[out["name"]] = {
            "fields": {c: _field_set(f["inputFields"]) for c, f in lineage["fields"].items()},
            "dataset": _field_set(lineage["dataset"]),
        }
    return {"inputs": {d["name"] for d in event["inputs"]}, "outputs": outputs}


async def test_export_equals_the_examples_lineage(neo4j_server: Any, tmp_path: Path) -> None:
    scan_examples(neo4j_server, tmp_path / "scan")
    events = _export(neo4j_server, tmp_path / "ol.jsonl", "--namespace", "examples")
    for event in events:
        validate_run_event(event)
    expected = _expected()
    assert [e["job"]["name"] for e in events] == sorted(expected)
    assert {e["job"]["namespace"] for e in events} == {"examples"}
    for event in events:
        assert event["eventType"] == "COMPLETE"
        assert _actual(event) == expected[event["job"]["name"]], event["job"]["name"]
    # The examples exercise what the format is for: joins/filters at dataset level,
    # aggregations per column.
    dim = {e["job"]["name"]: e for e in events}["shop:marts/dim_customers.sql"]
    lineage = dim["outputs"][0]["facets"]["columnLineage"]
    assert any(t["subtype"] == "JOIN" for d in lineage["dataset"] for t in d["transformations"])
    assert any(
        t["subtype"] == "AGGREGATION"
        for f in lineage["fields"].values()
        for i in f["inputFields"]
        for t in i["transformations"]
    )


async def test_since_and_root_select_files(neo4j_server: Any, tmp_path: Path) -> None:
    scan_examples(neo4j_server, tmp_path / "scan")
    everything = _export(neo4j_server, tmp_path / "all.jsonl")
    shop = _export(neo4j_server, tmp_path / "shop.jsonl", "--root", "shop")
    assert shop and {e["job"]["name"].split(":")[0] for e in shop} == {"shop"}
    assert len(shop) < len(everything)
    assert _export(neo4j_server, tmp_path / "future.jsonl", "--since", "2999-01-01") == []
    assert len(_export(neo4j_server, tmp_path / "recent.jsonl", "--since", "1d")) == len(everything)


def test_unreachable_neo4j_is_exit_3(tmp_path: Path) -> None:
    out = tmp_path / "never.jsonl"
    unreachable = {"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "x"}
    proc = run_lineaged(unreachable, "export", "--openlineage", "-o", str(out))
    assert proc.returncode == 3
    assert "cannot reach Neo4j" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not out.exists()
