"""The start-up orphan sweep is skipped only on a note of a clean stop whose graph
fingerprint still matches, and that note is written only when nobody but this daemon
wrote while it ran (orphan_policy.py); the writer's ledger of its own count changes
(graph/ledger.py). Real-Neo4j tests: tests/integration/test_orphan_sweep_policy.py."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from neo4j.exceptions import Neo4jError, ServiceUnavailable

sys.path.insert(0, str(Path(__file__).parent))
from fake_neo4j import FakeNeo4j
from test_graph_writer_conflicts import _file, _writer

from lineaged import orphan_policy
from lineaged.graph.fingerprint import GraphFingerprint, fingerprint_of
from lineaged.graph.ledger import CountDelta, WriteLedger
from lineaged.orphan_policy import OrphanSweepPolicy, SweptNote, note_path, save_note, take_note

URI, DB = "bolt://127.0.0.1:7687", "neo4j"
GRAPH = GraphFingerprint("db-1", "2026-12-01T00:00:00Z", "counts-a", 100, 200)


class Graph:
    """What read_fingerprint answers, one answer per call."""

    def __init__(self, *answers: GraphFingerprint | None) -> None:
        self.answers = list(answers)

    async def read(self, driver: Any, database: str) -> GraphFingerprint | None:
        return self.answers.pop(0)


class FakeWriter:
    def __init__(self, checked: int | None) -> None:
        self.checked = checked

    async def sweep_orphans(self) -> int | None:
        return self.checked


def _policy(tmp_path: Path, graph: Graph, monkeypatch: pytest.MonkeyPatch) -> OrphanSweepPolicy:
    monkeypatch.setattr(orphan_policy, "read_fingerprint", graph.read)
    return OrphanSweepPolicy(tmp_path, URI, DB)


def _ledger(nodes: int = 0, relationships: int = 0, uncertain: str | None = None) -> WriteLedger:
    return WriteLedger(CountDelta(nodes, relationships), uncertain)


# -- the decision at start ---------------------------------------------------------------


async def test_no_note_means_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = _policy(tmp_path, Graph(GRAPH), monkeypatch)
    await policy.at_start(None)  # type: ignore[arg-type]
    assert policy.must_sweep and policy.reason == "no note of a clean stop"


async def test_a_matching_note_skips_and_is_used_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_note(tmp_path, SweptNote(URI, DB, GRAPH))
    policy = _policy(tmp_path, Graph(GRAPH), monkeypatch)
    await policy.at_start(None)  # type: ignore[arg-type]
    assert not policy.must_sweep
    # Taken at start: a run that crashes leaves no note behind for the next start.
    assert not note_path(tmp_path).exists()


@pytest.mark.parametrize(
    ("note", "now", "why"),
    [
        (SweptNote(URI, DB, GRAPH), replace(GRAPH, counts="counts-b"), "graph changed"),
        (SweptNote(URI, DB, GRAPH), replace(GRAPH, nodes=101), "graph changed"),
        (SweptNote(URI, DB, GRAPH), replace(GRAPH, graph_id="db-2"), "another database store"),
        (SweptNote(URI, DB, GRAPH), replace(GRAPH, created="later"), "another database store"),
        (SweptNote("bolt://other:7687", DB, GRAPH), GRAPH, "another Neo4j"),
        (SweptNote(URI, "other", GRAPH), GRAPH, "another Neo4j"),
        (SweptNote(URI, DB, GRAPH, rules="old-rules"), GRAPH, "orphan rules changed"),
        (SweptNote(URI, DB, GRAPH), None, "no fingerprint"),
    ],
)
async def test_a_note_that_does_not_match_means_sweep(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    note: SweptNote,
    now: GraphFingerprint | None,
    why: str,
) -> None:
    save_note(tmp_path, note)
    policy = _policy(tmp_path, Graph(now), monkeypatch)
    await policy.at_start(None)  # type: ignore[arg-type]
    assert policy.must_sweep and why in policy.reason


async def test_an_unreadable_note_means_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note_path(tmp_path).write_text('{"version": 1, "uri": ')
    policy = _policy(tmp_path, Graph(GRAPH), monkeypatch)
    await policy.at_start(None)  # type: ignore[arg-type]
    assert policy.must_sweep and not note_path(tmp_path).exists()


async def test_a_fingerprint_that_fails_to_read_means_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_note(tmp_path, SweptNote(URI, DB, GRAPH))

    async def broken(driver: Any, database: str) -> GraphFingerprint:
        raise ServiceUnavailable("gone")

    monkeypatch.setattr(orphan_policy, "read_fingerprint", broken)
    policy = OrphanSweepPolicy(tmp_path, URI, DB)
    await policy.at_start(None)  # type: ignore[arg-type]
    assert policy.must_sweep and policy.start is None


# -- the note at a clean stop ------------------------------------------------------------


async def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end: GraphFingerprint, ledger: WriteLedger
) -> bool:
    policy = _policy(tmp_path, Graph(GRAPH, end), monkeypatch)
    await policy.at_start(None)  # type: ignore[arg-type]
    await policy.sweep(FakeWriter(checked=3))  # type: ignore[arg-type]
    return await policy.at_clean_stop(None, ledger)  # type: ignore[arg-type]


async def test_a_stop_after_only_our_writes_notes_the_graph_as_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    end = GraphFingerprint("db-1", GRAPH.created, "counts-c", 105, 190)
    assert await _run(tmp_path, monkeypatch, end, _ledger(5, -10))
    note = json.loads(note_path(tmp_path).read_text())
    assert note["graph"] == end.to_dict() and (note["uri"], note["database"]) == (URI, DB)
    assert note["rules"] == orphan_policy.RULES


@pytest.mark.parametrize(
    ("end", "ledger"),
    [
        # Someone else created (or deleted) something while we ran.
        (replace(GRAPH, nodes=106, relationships=190), _ledger(5, -10)),
        (replace(GRAPH, nodes=105, relationships=191), _ledger(5, -10)),
        # A commit of ours may have landed unseen: its counts are unknown.
        (replace(GRAPH, nodes=105, relationships=190), _ledger(5, -10, "ServiceUnavailable")),
        # The store was replaced under us.
        (replace(GRAPH, graph_id="db-2", nodes=105, relationships=190), _ledger(5, -10)),
        (None, _ledger()),
    ],
)
async def test_a_stop_after_writes_not_all_ours_notes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    end: GraphFingerprint | None,
    ledger: WriteLedger,
) -> None:
    assert not await _run(tmp_path, monkeypatch, end, ledger)  # type: ignore[arg-type]
    assert not note_path(tmp_path).exists()


@pytest.mark.parametrize("checked", [None, "cancelled", "not run"])
async def test_a_sweep_that_did_not_finish_notes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checked: Any
) -> None:
    policy = _policy(tmp_path, Graph(GRAPH, GRAPH), monkeypatch)
    await policy.at_start(None)  # type: ignore[arg-type]
    if checked == "cancelled":

        class Cancelled(FakeWriter):
            async def sweep_orphans(self) -> int | None:
                raise RuntimeError("cancelled")

        with pytest.raises(RuntimeError):
            await policy.sweep(Cancelled(0))  # type: ignore[arg-type]
    elif checked is None:
        await policy.sweep(FakeWriter(checked=None))  # type: ignore[arg-type]
    assert not await policy.at_clean_stop(None, _ledger())  # type: ignore[arg-type]
    assert not note_path(tmp_path).exists()


async def test_a_skipped_sweep_notes_again_at_a_clean_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_note(tmp_path, SweptNote(URI, DB, GRAPH))
    policy = _policy(tmp_path, Graph(GRAPH, GRAPH), monkeypatch)
    await policy.at_start(None)  # type: ignore[arg-type]
    policy.skip()
    assert await policy.at_clean_stop(None, _ledger())  # type: ignore[arg-type]
    assert take_note(tmp_path) == SweptNote(URI, DB, GRAPH)


# -- the fingerprint ---------------------------------------------------------------------


def test_the_fingerprint_ignores_the_order_neo4j_lists_counts_in() -> None:
    nodes = [{"count": 3}, {"count": 2, "label": "Column"}, {"count": 1, "label": "Table"}]
    rels = [{"count": 4}, {"count": 4, "relationshipType": "HAS_COLUMN"}]
    a = fingerprint_of("id", "c", nodes, rels)
    b = fingerprint_of("id", "c", nodes[::-1], rels[::-1])
    assert a == b and (a.nodes, a.relationships) == (3, 4)
    moved = [{"count": 3}, {"count": 1, "label": "Column"}, {"count": 2, "label": "Table"}]
    assert fingerprint_of("id", "c", moved, rels).counts != a.counts


# -- the writer's ledger -----------------------------------------------------------------


COUNTERS = {"nodes-created": 3, "nodes-deleted": 1, "relationships-created": 5}


@pytest.mark.parametrize("urgent", [False, True])
async def test_the_ledger_adds_what_each_committed_statement_reports(
    tmp_path: Path, urgent: bool
) -> None:
    neo4j = FakeNeo4j(counters=COUNTERS)
    writer = _writer(neo4j, tmp_path)
    await writer.write([_file("a.sql")], urgent=urgent)
    await writer.write([_file("b.sql")], urgent=urgent)
    statements = len(neo4j.runs)
    assert statements >= 2
    assert writer.ledger == _ledger(2 * statements, 5 * statements)


async def test_a_commit_that_may_have_landed_unseen_makes_the_ledger_uncertain(
    tmp_path: Path,
) -> None:
    failures: list[Exception] = [ServiceUnavailable("connection lost during COMMIT")]

    def on_commit() -> None:
        if failures:
            raise failures.pop()

    neo4j = FakeNeo4j(counters=COUNTERS, on_commit=on_commit)
    writer = _writer(neo4j, tmp_path)
    await writer.write([_file("a.sql")])
    assert neo4j.commits == 1 and writer.stats.retries == 1
    assert writer.ledger.uncertain is not None and "ServiceUnavailable" in writer.ledger.uncertain


@pytest.mark.parametrize("where", ["statement", "commit"])
async def test_a_transaction_refused_by_neo4j_leaves_the_ledger_certain(
    tmp_path: Path, where: str
) -> None:
    """A server's answer that the statement or the commit failed: nothing committed."""
    failures = [
        Neo4jError._hydrate_neo4j(
            code="Neo.TransientError.Transaction.DeadlockDetected", message="deadlock"
        )
    ]

    def fail() -> None:
        if failures:
            raise failures.pop()

    neo4j = FakeNeo4j(
        fail if where == "statement" else None,
        counters=COUNTERS,
        on_commit=fail if where == "commit" else None,
    )
    writer = _writer(neo4j, tmp_path)
    await writer.write([_file("a.sql")])
    assert writer.stats.retries == 1 and writer.ledger.uncertain is None
    # Only the committed attempt's statements count.
    committed = len(neo4j.transactions[-1])
    assert writer.ledger.delta == CountDelta(2 * committed, 5 * committed)


async def test_a_connection_lost_before_commit_leaves_the_ledger_certain(tmp_path: Path) -> None:
    failures: list[Exception] = [ServiceUnavailable("connection lost")]

    def on_statement() -> None:
        if failures:
            raise failures.pop()

    neo4j = FakeNeo4j(on_statement, counters=COUNTERS)
    writer = _writer(neo4j, tmp_path)
    await writer.write([_file("a.sql")])
    assert writer.stats.retries == 1 and writer.ledger.uncertain is None


def test_the_note_is_private(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        save_note(tmp_path / "state", SweptNote(URI, DB, GRAPH))
    finally:
        os.umask(old)
    assert stat.S_IMODE(note_path(tmp_path / "state").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
