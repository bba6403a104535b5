"""Debounce and dedupe FileEvents into batches.

Policy: the last event per file wins; a create followed by a delete inside one window
cancels out; a batch is released when no event arrived for `debounce_s`, when it holds
`max_batch` files, or when its oldest event is `max_latency_s` old (so a steady stream
of events cannot starve a flush). `debounce_s=0` with `max_batch=1` hands every event on
alone. With `release_when_complete` (realtime mode) a batch goes at once when the last
event of each of its files says the file is complete (closed after writing, or renamed
into place): an editor's save is not held for the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from lineaged.model import Change, FileEvent, FileRef


class Batch(dict[FileRef, FileEvent]):
    """Files → their last event; `released_at` is when the batcher let it go
    (monotonic; 0.0 for a batch made elsewhere)."""

    released_at: float = 0.0


@dataclass
class BatcherStats:
    events_in: int = 0
    batches_out: int = 0
    files_out: int = 0
    cancelled: int = 0

    @property
    def dedupe_ratio(self) -> float:
        """Events per file handed on (1.0 = no duplicates collapsed)."""
        return self.events_in / self.files_out if self.files_out else 0.0


class Batcher:
    def __init__(
        self,
        *,
        debounce_s: float = 0.2,
        max_batch: int = 500,
        max_latency_s: float = 2.0,
        release_when_complete: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._pending: dict[FileRef, FileEvent] = {}
        # Pending files whose last event does not say their content is complete.
        self._incomplete: set[FileRef] = set()
        self._first_at = 0.0
        self._last_at = 0.0
        self._wake = asyncio.Event()
        self.configure(
            debounce_s=debounce_s,
            max_batch=max_batch,
            max_latency_s=max_latency_s,
            release_when_complete=release_when_complete,
        )
        self._flush_now = False
        self._closed = False
        self.stats = BatcherStats()

    def configure(
        self,
        *,
        debounce_s: float,
        max_batch: int,
        max_latency_s: float,
        release_when_complete: bool = False,
    ) -> None:
        """The flush policy (start-up and SIGHUP); a pending batch is judged by it at
        once."""
        self.debounce_s = debounce_s
        self.max_batch = max_batch
        self.max_latency_s = max_latency_s
        self.release_when_complete = release_when_complete
        self._wake.set()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, event: FileEvent) -> None:
        if self._closed:
            return
        now = self._clock()
        self.stats.events_in += 1
        previous = self._pending.get(event.ref)
        if previous is not None and previous.created and event.change is Change.DELETED:
            # Born and gone inside one window: the graph never needs to hear of it.
            del self._pending[event.ref]
            self._incomplete.discard(event.ref)
            self.stats.cancelled += 1
            self._wake.set()
            return
        if previous is not None and previous.created and event.change is Change.CHANGED:
            event = _as_created(event)
        if not self._pending:
            self._first_at = now
        self._pending[event.ref] = event
        if event.complete:
            self._incomplete.discard(event.ref)
        else:
            self._incomplete.add(event.ref)
        self._last_at = now
        self._wake.set()

    def flush(self) -> None:
        """Release whatever is pending without waiting for the window."""
        self._flush_now = True
        self._wake.set()

    def close(self) -> None:
        """Stop accepting events; `batches()` yields what is pending, then ends."""
        self._closed = True
        self._wake.set()

    def _due_in(self) -> float:
        """Seconds until the pending batch must be released (<= 0: now)."""
        if self._flush_now or self._closed or len(self._pending) >= self.max_batch:
            return 0.0
        if self.release_when_complete and not self._incomplete:
            return 0.0
        now = self._clock()
        debounce_due = self._last_at + self.debounce_s
        latency_due = self._first_at + self.max_latency_s
        return min(debounce_due, latency_due) - now

    def _take(self) -> Batch:
        if len(self._pending) <= self.max_batch:
            batch, self._pending = Batch(self._pending), {}
            self._incomplete.clear()
        else:
            keys = list(self._pending)[: self.max_batch]
            batch = Batch((k, self._pending.pop(k)) for k in keys)
            self._incomplete.difference_update(keys)
            self._first_at = self._clock()
        batch.released_at = self._clock()
        if not self._pending:
            self._flush_now = False
        self.stats.batches_out += 1
        self.stats.files_out += len(batch)
        return batch

    async def batches(self) -> AsyncIterator[Batch]:
        while True:
            if not self._pending:
                if self._closed:
                    return
                self._flush_now = False
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._due_in()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                continue
            yield self._take()


def _as_created(event: FileEvent) -> FileEvent:
    return dataclasses.replace(event, created=True)
