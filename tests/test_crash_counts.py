"""The persistent worker-crash count: bounded, atomic, and never a reason to fail."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from structlog.testing import capture_logs

import lineaged.crash_counts as crash_counts
from lineaged.crash_counts import GIVE_UP_AFTER_STARTS, CrashCounts


def test_counts_are_per_content_and_version_and_survive_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "state" / "worker_crashes.json"
    counts = CrashCounts(path)
    for _ in range(GIVE_UP_AFTER_STARTS):
        counts.record("r:a.sql", "sha1", "v1")
    reloaded = CrashCounts(path)
    assert reloaded.given_up("r:a.sql", "sha1", "v1")
    assert not reloaded.given_up("r:a.sql", "sha2", "v1")
    assert not reloaded.given_up("r:a.sql", "sha1", "v2")
    assert reloaded.record("r:a.sql", "sha2", "v1") == 1  # other content: counted afresh
    assert not list(path.parent.glob("*.tmp"))


def test_an_unreadable_count_file_starts_empty_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "worker_crashes.json"
    path.write_bytes(b"\\x00not json")
    with capture_logs() as logs:
        counts = CrashCounts(path)
    assert [e["event"] for e in logs] == ["crash_counts_unreadable"]
    assert counts.record("r:a.sql", "sha1", "v1") == 1


def test_the_oldest_entries_go_past_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crash_counts, "MAX_ENTRIES", 3)
    counts = CrashCounts(tmp_path / "worker_crashes.json")
    for i in range(5):
        counts.record(f"r:{i}.sql", "sha", "v")
    saved = orjson.loads((tmp_path / "worker_crashes.json").read_bytes())
    assert list(saved["files"]) == ["r:2.sql", "r:3.sql", "r:4.sql"]
