"""Whether this start must sweep the graph for orphan Table/Column nodes.

The sweep (GraphWriter.sweep_orphans) is a label scan of every Column and Table: on a
100k-file graph 0.3-2 s of Neo4j's CPU at every start, seconds under load, and the
longest step of a warm restart. Current lineaged writes never leave an orphan (each
transaction drops what it unreferenced, with locks against write skew); orphans come
from elsewhere: a crash of an older version, another program, a hand edit. So a start
may skip the sweep when it can tell that nothing but this daemon wrote since a sweep
left the graph clean. It tells that with a note in the state dir (`graph-swept.json`):

- written at a clean stop only (drain complete), if this run's sweep finished (or was
  itself skipped on a valid note), no write transaction's outcome is unknown, and the
  graph's node and relationship totals now equal those read at start plus what our
  own committed transactions reported changing (graph/ledger.py): nobody else wrote
  while we ran. It holds the graph's fingerprint as read at that stop
  (graph/fingerprint.py: database id and creation date, every count-store count), the
  Neo4j URI and database, and a digest of the orphan rules;
- taken (read and deleted) at every start, before any write: a crash leaves no note;
- honoured only if the graph's fingerprint now equals the noted one, for the same
  URI, database and rules: any write by anyone since the stop that changed a count
  (a node or relationship created or deleted, per label and type) makes the start
  sweep. The sweep also runs when no fingerprint can be read.

What is not seen: a foreign change between two of our runs (or during one) that keeps
every count-store count as it was, e.g. one relationship moved to another node of the
same labels. `writer.orphan_sweep = "every_start"` sweeps at every start regardless.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog
from neo4j import AsyncDriver

from lineaged import private
from lineaged.graph import queries as q
from lineaged.graph.fingerprint import GraphFingerprint, read_fingerprint
from lineaged.graph.ledger import WriteLedger

if TYPE_CHECKING:
    from lineaged.graph.writer import GraphWriter

log = structlog.get_logger(__name__)

NOTE_NAME = "graph-swept.json"
NOTE_VERSION = 1
# A change to what counts as an orphan makes old notes worthless.
RULES = hashlib.sha256((q.ORPHAN_CANDIDATES + q.DROP_ORPHANS).encode()).hexdigest()[:16]

Outcome = Literal["pending", "skipped", "swept", "failed"]


@dataclass(frozen=True)
class SweptNote:
    uri: str
    database: str
    graph: GraphFingerprint
    rules: str = RULES

    def vouches_for(self, uri: str, database: str, now: GraphFingerprint | None) -> str | None:
        """None if this note vouches for the graph as `now` reads; else why not."""
        if (self.uri, self.database) != (uri, database):
            return "another Neo4j or database"
        if self.rules != RULES:
            return "orphan rules changed"
        if now is None:
            return "no fingerprint"
        if (self.graph.graph_id, self.graph.created) != (now.graph_id, now.created):
            return "another database store"
        if self.graph != now:
            return "graph changed since the last clean stop"
        return None


def note_path(state_dir: Path) -> Path:
    return state_dir / NOTE_NAME


def take_note(state_dir: Path) -> SweptNote | None:
    """Read and delete the note: it vouches for one start only (a crash leaves none)."""
    path = note_path(state_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("sweep_note_unreadable", path=str(path), error=str(exc))
        return None
    finally:
        path.unlink(missing_ok=True)
    try:
        d = json.loads(text)
        if d.get("version") != NOTE_VERSION:
            return None
        return SweptNote(
            str(d["uri"]), str(d["database"]), GraphFingerprint.from_dict(d["graph"]), d["rules"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("sweep_note_unreadable", path=str(path), error=f"{type(exc).__name__}: {exc}")
        return None


def save_note(state_dir: Path, note: SweptNote) -> None:
    path = note_path(state_dir)
    tmp = path.with_suffix(".tmp")
    body = {
        "version": NOTE_VERSION,
        "uri": note.uri,
        "database": note.database,
        "rules": note.rules,
        "graph": note.graph.to_dict(),
    }
    private.make_dir(state_dir)
    fd = private.open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW)
    with os.fdopen(fd, "w") as f:
        json.dump(body, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class OrphanSweepPolicy:
    """One daemon run: decide at start, account for the sweep, note a clean stop."""

    def __init__(self, state_dir: Path, uri: str, database: str, *, always: bool = False) -> None:
        self._state_dir = state_dir
        self._uri = uri
        self._database = database
        self._always = always
        self.start: GraphFingerprint | None = None
        self.outcome: Outcome = "pending"
        self.reason = ""  # why the sweep runs or is skipped (logged, tested)

    async def at_start(self, driver: AsyncDriver) -> None:
        """Read the graph's fingerprint and take the note. Before any write of ours:
        the stop's check counts every write from here."""
        note = take_note(self._state_dir)
        try:
            self.start = await read_fingerprint(driver, self._database)
        except Exception as exc:
            log.warning("graph_fingerprint_failed", error=f"{type(exc).__name__}: {exc}")
            self.start = None
        if self._always:
            self.reason = 'writer.orphan_sweep = "every_start"'
        elif note is None:
            self.reason = "no note of a clean stop"
        else:
            self.reason = note.vouches_for(self._uri, self._database, self.start) or ""

    @property
    def must_sweep(self) -> bool:
        return self.reason != ""

    def skip(self) -> None:
        self.outcome = "skipped"
        log.info("orphan_sweep_skipped", reason="graph unchanged since a clean stop")

    async def sweep(self, writer: GraphWriter) -> None:
        log.info("orphan_sweep_needed", reason=self.reason)
        self.outcome = "failed"  # unless it ends well (an error, a cancel)
        if await writer.sweep_orphans() is not None:
            self.outcome = "swept"

    async def at_clean_stop(self, driver: AsyncDriver, ledger: WriteLedger) -> bool:
        """After a complete drain: note the graph if nobody else wrote. True if noted."""
        why_not = await self._why_not_note(driver, ledger)
        if why_not is not None:
            log.info("sweep_note_not_saved", reason=why_not)
        return why_not is None

    async def _why_not_note(self, driver: AsyncDriver, ledger: WriteLedger) -> str | None:
        if self.outcome not in ("swept", "skipped"):
            return f"orphan sweep {self.outcome}"
        if ledger.uncertain is not None:
            return f"a write's outcome is unknown ({ledger.uncertain})"
        start = self.start
        if start is None:
            return "no fingerprint at start"
        end = await read_fingerprint(driver, self._database)
        if end is None:
            return "no fingerprint at stop"
        if (end.graph_id, end.created) != (start.graph_id, start.created):
            return "another database store"
        nodes = start.nodes + ledger.delta.nodes
        relationships = start.relationships + ledger.delta.relationships
        if (end.nodes, end.relationships) != (nodes, relationships):
            return (
                f"someone else wrote: nodes {end.nodes} relationships {end.relationships}, "
                f"our writes alone would leave {nodes} and {relationships}"
            )
        save_note(self._state_dir, SweptNote(self._uri, self._database, end))
        log.info("sweep_note_saved", nodes=end.nodes, relationships=end.relationships)
        return None
