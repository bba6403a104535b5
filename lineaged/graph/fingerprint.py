"""What a graph looks like from its count store: who it is and how many of everything.

`read_fingerprint` is one query (queries.GRAPH_FINGERPRINT, ~10-30 ms on any size): the
database's id and creation date, the node count per label, the relationship count per
type and per (start label, type) and (type, end label), and the totals. Two reads with
equal fingerprints saw the same database with the same counts; a change that leaves
every one of those counts as it was is not seen (orphan_policy.py says what that means
for the orphan sweep).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import structlog
from neo4j import AsyncDriver
from neo4j.exceptions import Neo4jError

from lineaged.graph import queries as q

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GraphFingerprint:
    graph_id: str  # db.info(): the database's id and creation date (a new store: new ones)
    created: str
    counts: str  # sha256 of every count-store entry, in a canonical order
    nodes: int  # totals, which the writer's own deltas are checked against
    relationships: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "graph_id": self.graph_id,
            "created": self.created,
            "counts": self.counts,
            "nodes": self.nodes,
            "relationships": self.relationships,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GraphFingerprint:
        return cls(
            str(d["graph_id"]),
            str(d["created"]),
            str(d["counts"]),
            int(d["nodes"]),
            int(d["relationships"]),
        )


def fingerprint_of(
    graph_id: str, created: str, nodes: list[dict[str, Any]], relationships: list[dict[str, Any]]
) -> GraphFingerprint:
    """The fingerprint of one GRAPH COUNTS answer; entries are ordered canonically, as
    Neo4j lists them in no promised order."""
    entries = sorted(json.dumps(e, sort_keys=True) for e in [*nodes, *relationships])
    digest = hashlib.sha256("\n".join(entries).encode()).hexdigest()
    return GraphFingerprint(
        graph_id, created, digest, _total(nodes, "label"), _total(relationships, "relationshipType")
    )


def _total(entries: list[dict[str, Any]], key: str) -> int:
    """The entry with only a count is the total (no label / no type); an empty graph
    may list none."""
    totals = [e["count"] for e in entries if set(e) == {"count"}]
    if totals:
        return int(totals[0])
    return sum(int(e["count"]) for e in entries if set(e) == {"count", key})


async def read_fingerprint(driver: AsyncDriver, database: str) -> GraphFingerprint | None:
    """The graph's fingerprint, or None when this server or user cannot give one (the
    procedures are missing or not allowed): then nothing is vouched for and the sweep
    runs. Transient errors are not hidden here (the caller decides)."""
    try:
        records, _, _ = await driver.execute_query(q.GRAPH_FINGERPRINT, database_=database)
    except Neo4jError as exc:
        if exc.code is not None and exc.code.startswith("Neo.ClientError."):
            log.info("graph_fingerprint_unavailable", error=f"{exc.code}: {exc.message}")
            return None
        raise
    r = records[0]
    return fingerprint_of(str(r["id"]), str(r["creationDate"]), r["nodes"], r["relationships"])
