"""structlog processor: rate-limit repeats of the same warning/error, remember the last.

When Neo4j is down or a directory is unreadable the same error can fire for every
file or every retry; the journal gets the first occurrence, then at most one line per
`window_s` for that (event, error) pair, carrying `repeated=N` (how many were
dropped in between). The last error is kept for /metrics and `lineaged status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

_LIMITED_LEVELS = frozenset({"warning", "error", "critical", "exception"})
_ERROR_LEVELS = frozenset({"error", "critical", "exception"})


class RepeatLimiter:
    def __init__(
        self,
        window_s: float = 60.0,
        *,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # key → (last emitted, dropped)
        self.last_error: str | None = None
        # Every line dropped, ever: a key forgotten to bound memory (or never repeated
        # after its window) loses its `repeated=N`, this total does not (/metrics).
        self.suppressed = 0
        self.last_error_at: float | None = None  # wall clock

    def __call__(
        self, _logger: object, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        level = str(event.get("level", "")).lower()
        if level not in _LIMITED_LEVELS:
            return event
        key = (str(event.get("event", "")), _error_text(event))
        if level in _ERROR_LEVELS:
            self.last_error = _describe(key)
            self.last_error_at = time.time()
        now = self._clock()
        previous = self._seen.get(key)
        if previous is not None and now - previous[0] < self.window_s:
            self._seen[key] = (previous[0], previous[1] + 1)
            self.suppressed += 1
            raise structlog.DropEvent
        if previous is not None and previous[1]:
            event["repeated"] = previous[1]
        if len(self._seen) >= self.max_keys and key not in self._seen:
            # Bounded memory: forget the oldest keys (dict keeps insertion order).
            for old in list(self._seen)[: self.max_keys // 2]:
                del self._seen[old]
        self._seen[key] = (now, 0)
        return event


def _error_text(event: MutableMapping[str, Any]) -> str:
    # Per-file errors differ by file; the same error on many files is still one story,
    # so the key is the event and its error text, not the path.
    for name in ("error", "reason", "exc_info", "exception"):
        value = event.get(name)
        if value is not None and value is not True:
            return str(value)[:300]
    return ""


def _describe(key: tuple[str, str]) -> str:
    return f"{key[0]}: {key[1]}" if key[1] else key[0]


# One per process, shared by logging set-up and the metrics collector.
LIMITER = RepeatLimiter()
