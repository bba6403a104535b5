"""Follow the graph and send each file's new lineage as it lands (`export --follow`).

The daemon writes; this follower polls the graph for files ingested since its
watermark and hands their RunEvents to a sender. It is a separate process on purpose:
a slow or absent lineage server can never hold up the daemon's writes, and since the
graph is the ledger, a follower restarted with the same `--state` file resumes where
it stopped (the watermark is saved after every poll).

A transaction that started before the watermark may commit after it with an earlier
`ingested_at`, so each poll looks `overlap_s` back and skips what it already sent
(by file and content hash): at-least-once, without repeats in normal operation.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lineaged.export.records import FileRecord

ReadFiles = Callable[[str | None], Iterable[FileRecord]]


def parse_time(text: str) -> datetime:
    """Neo4j's toString(datetime) or ISO 8601 → aware datetime (nanoseconds cut)."""
    text = text.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python keeps at most 6 fraction digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[: min(digits, 6)] + rest[digits:]
        text = f"{head}.{rest}"
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Follower:
    def __init__(
        self,
        read_files: ReadFiles,
        send: Callable[[FileRecord], Any],
        *,
        since: str | None = None,
        state: Path | None = None,
        overlap_s: float = 10.0,
    ) -> None:
        self._read = read_files
        self._send = send
        self._state = state
        self._overlap = timedelta(seconds=overlap_s)
        saved = self._load_state()
        start = saved or since
        self.watermark: datetime | None = parse_time(start) if start else None
        self._sent: dict[tuple[str, str | None], datetime] = {}

    def poll(self) -> int:
        """One round: send what is new since the watermark; returns how many."""
        since = (self.watermark - self._overlap).isoformat() if self.watermark else None
        count = 0
        for record in self._read(since):
            key = (record.id, record.sha256 or record.error)
            at = parse_time(record.ingested_at)
            if key in self._sent:
                continue
            self._send(record)
            self._sent[key] = at
            count += 1
            if self.watermark is None or at > self.watermark:
                self.watermark = at
        self._forget_old()
        self._save_state()
        return count

    def run(
        self,
        stop: threading.Event,
        poll_s: float,
        *,
        retry_on: tuple[type[BaseException], ...] = (),
        on_error: Callable[[BaseException], None] = lambda exc: None,
    ) -> None:
        """Poll until `stop`; errors of the `retry_on` types (Neo4j away) are reported
        and the next poll tries again: the watermark only moves on success."""
        while not stop.is_set():
            try:
                self.poll()
            except retry_on as exc:
                on_error(exc)
            stop.wait(poll_s)

    def _forget_old(self) -> None:
        if self.watermark is None:
            return
        horizon = self.watermark - self._overlap
        self._sent = {k: at for k, at in self._sent.items() if at >= horizon}

    def _load_state(self) -> str | None:
        if self._state is None or not self._state.exists():
            return None
        try:
            return str(json.loads(self._state.read_text())["watermark"])
        except (ValueError, KeyError, TypeError):
            return None  # unreadable state: start from --since, at worst resend

    def _save_state(self) -> None:
        if self._state is None or self.watermark is None:
            return
        tmp = self._state.with_name(self._state.name + ".tmp")
        tmp.write_text(json.dumps({"watermark": self.watermark.isoformat()}) + "\n")
        os.replace(tmp, self._state)
