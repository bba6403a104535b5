"""LastWritten: what this process last sent to the graph, used only to prove a change."""

from __future__ import annotations

from lineaged.last_written import LastWritten
from lineaged.model import FileLineage, FileRef, FileUpdate

LINEAGE = FileLineage("postgres", "t1", ())


def written(path: str, sha: str | None) -> FileUpdate:
    return FileUpdate(FileRef("r", path), sha, "postgres", LINEAGE)


def test_only_a_different_hash_of_a_known_file_proves_a_change() -> None:
    last = LastWritten()
    ref = FileRef("r", "a.sql")
    assert not last.proves_change(ref, "s1")  # unknown
    last.written([written("a.sql", "s1")], live=True)
    assert not last.proves_change(ref, "s1")  # the same content: ask the graph
    assert last.proves_change(ref, "s2")
    assert not last.proves_change(ref, None)  # unreadable: no proof


def test_deletions_unhashed_writes_and_unfinished_writes_are_forgotten() -> None:
    last = LastWritten()
    last.written(
        [written("a.sql", "s1"), written("b.sql", "s1"), written("c.sql", "s1")], live=True
    )
    last.written([FileUpdate(FileRef("r", "a.sql"), None, "postgres", None)], live=True)
    last.written([written("b.sql", None)], live=True)  # e.g. a worker crash: no hash
    last.forget([FileRef("r", "c.sql")])
    for path in ("a.sql", "b.sql", "c.sql"):
        assert not last.proves_change(FileRef("r", path), "s2")


def test_backfill_updates_known_files_only_and_the_record_is_bounded() -> None:
    last = LastWritten(max_files=2)
    last.written([written("a.sql", "s1")], live=True)
    last.written([written("a.sql", "s2"), written("b.sql", "s2")], live=False)
    assert last.proves_change(FileRef("r", "a.sql"), "s1")  # a backfill wrote s2
    assert not last.proves_change(FileRef("r", "b.sql"), "s1")  # not kept
    last.written([written("c.sql", "s1"), written("d.sql", "s1")], live=True)
    assert not last.proves_change(FileRef("r", "a.sql"), "s9")  # oldest dropped
    assert last.proves_change(FileRef("r", "d.sql"), "s9")
