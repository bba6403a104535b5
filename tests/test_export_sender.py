"""OpenLineage HTTP sender (retry, dead letters, re-drive) against a local receiver, and
the follower's watermark logic; no Neo4j."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ol_receiver import Receiver

from lineaged.export.follow import Follower, parse_time
from lineaged.export.records import FileRecord
from lineaged.export.sender import OpenLineageSender


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def sender(url: str, tmp_path: Path, **kw: Any) -> tuple[OpenLineageSender, list[float]]:
    sleeps: list[float] = []
    s = OpenLineageSender(url, tmp_path / "ol_dead.jsonl", sleep=sleeps.append, **kw)
    return s, sleeps


def letters(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_transient_errors_are_retried_with_backoff(receiver: Receiver, tmp_path: Path) -> None:
    receiver.script = [503, 429, 502]
    s, sleeps = sender(receiver.url, tmp_path, api_key="k3y", backoff_initial_s=1.0)
    assert s.send({"eventType": "COMPLETE", "n": 1})
    assert receiver.events == [{"eventType": "COMPLETE", "n": 1}]
    assert len(receiver.headers) == 4 and s.stats.retries == 3
    # Capped exponential backoff with jitter: each wait in [d/2, d], d = 1, 2, 4.
    assert [0.5 <= sleeps[0] <= 1, 1 <= sleeps[1] <= 2, 2 <= sleeps[2] <= 4] == [True] * 3
    assert receiver.headers[-1]["Authorization"] == "Bearer k3y"
    assert receiver.headers[-1]["Content-Type"] == "application/json"
    assert not (tmp_path / "ol_dead.jsonl").exists()


def test_refused_event_is_dead_lettered_at_once_and_others_go_on(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = [400]
    s, sleeps = sender(receiver.url, tmp_path)
    assert s.send_all([{"n": 1}, {"n": 2}]).sent == 1
    assert receiver.events == [{"n": 2}] and sleeps == []
    (letter,) = letters(tmp_path / "ol_dead.jsonl")
    assert letter["event"] == {"n": 1} and letter["status"] == 400
    assert letter["reason"].startswith("HTTP 400") and "scripted" in letter["reason"]


def test_unreachable_endpoint_gives_up_after_max_attempts(tmp_path: Path) -> None:
    closed = Receiver()
    closed.close()  # nothing listens there any more
    s, sleeps = sender(closed.url, tmp_path, max_attempts=3)
    assert not s.send({"n": 1})
    assert len(sleeps) == 2
    (letter,) = letters(tmp_path / "ol_dead.jsonl")
    assert letter["status"] is None
    assert "cannot reach" in letter["reason"] and "after 3 attempts" in letter["reason"]


def test_resend_redrives_dead_letters(receiver: Receiver, tmp_path: Path) -> None:
    receiver.script = [400, 400, 400]
    s, _ = sender(receiver.url, tmp_path)
    s.send_all([{"n": 1}, {"n": 2}, {"n": 3}])
    assert len(letters(tmp_path / "ol_dead.jsonl")) == 3
    receiver.script = [422]  # the first is still refused, the others now go through
    again, _ = sender(receiver.url, tmp_path)
    stats = again.resend()
    assert (stats.sent, stats.dead_lettered) == (2, 1)
    assert receiver.events == [{"n": 2}, {"n": 3}]
    assert [letter["event"] for letter in letters(tmp_path / "ol_dead.jsonl")] == [{"n": 1}]
    assert not list(tmp_path.glob("*.resending"))


def test_bad_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http"):
        OpenLineageSender("localhost:5000/api/v1/lineage", tmp_path / "d.jsonl")


def _record(path: str, sha: str, at: str) -> FileRecord:
    return FileRecord("wh", path, sha, "postgres", at, None)


def test_parse_time_handles_neo4j_nanoseconds() -> None:
    assert parse_time("2026-12-01T15:35:56.123456789Z").microsecond == 123456
    # As strings, "56.334Z" sorts after "56.3341Z"; as times it is before.
    assert parse_time("2026-12-01T15:35:56.334Z") < parse_time("2026-12-01T15:35:56.3341Z")
    assert parse_time("2026-12-01T15:35:56Z").tzinfo is not None


def test_follower_sends_each_version_once_and_resumes(tmp_path: Path) -> None:
    graph = [
        _record("a.sql", "1", "2026-12-01T10:00:00.5Z"),
        _record("b.sql", "1", "2026-12-01T10:00:01Z"),
    ]
    asked: list[str | None] = []

    def read(since: str | None) -> list[FileRecord]:
        asked.append(since)
        return [r for r in graph if since is None or parse_time(r.ingested_at) >= parse_time(since)]

    sent: list[tuple[str, str | None]] = []
    state = tmp_path / "follow.json"
    f = Follower(read, lambda r: sent.append((r.path, r.sha256)), state=state, overlap_s=10)
    assert f.poll() == 2
    assert f.poll() == 0  # the overlap re-reads them; nothing is sent twice
    # A new version of a.sql, and a late commit stamped before the watermark.
    graph[0] = _record("a.sql", "2", "2026-12-01T10:00:05Z")
    graph.append(_record("late.sql", "1", "2026-12-01T10:00:00.9Z"))
    assert f.poll() == 2
    assert sent == [("a.sql", "1"), ("b.sql", "1"), ("a.sql", "2"), ("late.sql", "1")]
    assert asked[-1] == "2026-12-01T09:59:51+00:00"
    # A restarted follower resumes from the saved watermark, not from the beginning.
    again = Follower(read, lambda r: sent.append((r.path, r.sha256)), state=state, overlap_s=0)
    assert again.watermark == parse_time("2026-12-01T10:00:05Z")
    assert again.poll() == 1  # only the file at the watermark itself (overlap 0)
    graph.append(dataclasses.replace(graph[1], path="c.sql", ingested_at="2026-12-01T10:01:00Z"))
    assert again.poll() == 1 and sent[-1] == ("c.sql", "1")


def test_follower_survives_a_failed_poll(tmp_path: Path) -> None:
    calls = {"n": 0}
    errors: list[BaseException] = []
    stop = threading.Event()

    def read(since: str | None) -> list[FileRecord]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("neo4j away")
        stop.set()
        return [_record("a.sql", "1", "2026-12-01T10:00:00Z")]

    sent: list[FileRecord] = []
    f = Follower(read, sent.append)
    f.run(stop, 0.01, retry_on=(ConnectionError,), on_error=errors.append)
    assert [str(e) for e in errors] == ["neo4j away"] and len(sent) == 1
