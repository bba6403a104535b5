"""What this process's own write transactions changed in the graph's counts.

The orphan sweep may be skipped at start only if nobody but a current lineaged wrote
since a sweep (orphan_policy.py). The writer adds here the node and relationship
counts each committed transaction reports (Neo4j's result counters); at a clean stop
the graph's totals must equal those at start plus these deltas, or someone else wrote.
A transaction whose commit may have happened unseen (the connection dropped during
COMMIT, a cancel while committing) makes the ledger uncertain: its deltas are unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neo4j import SummaryCounters
from neo4j.exceptions import Neo4jError


@dataclass
class CountDelta:
    nodes: int = 0
    relationships: int = 0

    def add(self, counters: SummaryCounters) -> None:
        self.nodes += counters.nodes_created - counters.nodes_deleted
        self.relationships += counters.relationships_created - counters.relationships_deleted


@dataclass
class WriteLedger:
    delta: CountDelta = field(default_factory=CountDelta)
    uncertain: str | None = None  # why the deltas are not known, if they are not

    def committed(self, delta: CountDelta) -> None:
        self.delta.nodes += delta.nodes
        self.delta.relationships += delta.relationships

    def failed(self, error: BaseException, *, committing: bool) -> None:
        """A write transaction ended in `error`. Before COMMIT was sent, nothing of it
        is in the graph (the server rolls back); during the commit (or an auto-commit
        statement) only the server's own refusal says so."""
        if committing and not isinstance(error, Neo4jError):
            self.uncertain = f"{type(error).__name__}: {error}"[:300]
