"""Who writes next: live writes before backfill, and backfill transactions sized by time.

`TxSlots` hands out write-transaction slots. Backfill may hold `regular` of them; live
(urgent) writes may use one more, reserved for them, and a freed slot goes to a waiting
live write before any waiting backfill write. A backfill write also yields at BEGIN:
it does not start while a live write waits or runs, nor while a live batch holds
`hold()` (from its graph-state read to its commit), so a live batch has Neo4j mostly
to itself — but for at most `max_yield_s`, so that edits in quick succession slow the
backfill down without stopping it. (It yields only before BEGIN, never between
statements: a backfill transaction holding locks a live one needs would otherwise
wait for it while it waits for the backfill's commit.)

`TxBudget` sizes backfill transactions by the time they take rather than by a row
count while live edits are around (`TxSlots.live_recently`; otherwise the writer uses
rows_per_tx, fastest for a cold ingest), so a live write waits for at most about
`target_s` of transaction:
it learns the rows per second of committed backfill transactions (each timed on its own
clock, from BEGIN to COMMIT, never including the wait for a slot) and allows
`rate x target_s` rows, within [min_rows, max_rows]. The writer asks for the size when
the transaction may begin (`TxSlots.backfill_turn`), so a batch that arrived before an
edit is not cut into rows_per_tx transactions that begin after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterator

from lineaged.model import EDITING_WINDOW_S

# After live work, backfill keeps its small, time-sized transactions this long (an
# editing session); with no edits around it writes rows_per_tx rows per transaction,
# which ingests fastest (fewer commits).
LIVE_WINDOW_S = 30.0


class TxSlots:
    def __init__(
        self,
        regular: int,
        reserved: int = 1,
        max_yield_s: float = 0.1,
        editing_window_s: float = EDITING_WINDOW_S,
    ) -> None:
        self.regular = regular
        self.editing_window_s = editing_window_s
        self.reserved = reserved
        self.max_yield_s = max_yield_s
        self.in_use = 0
        self.urgent_in_use = 0
        self.held = 0
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}
        self._live_quiet = asyncio.Event()
        self._live_quiet.set()
        self._live_at = float("-inf")  # monotonic time live work was last seen
        self._turns: list[asyncio.Future[None]] = []  # backfill_turn() callers

    @property
    def waiting(self) -> int:
        return len(self._waiting[True]) + len(self._waiting[False])

    def may_start(self, urgent: bool) -> bool:
        """May a write of this kind take a slot now? (Backfill: one of the regular
        ones -- only one while someone edits -- and not before a waiting live write.)"""
        if urgent:
            return self.in_use < self.regular + self.reserved
        if self._waiting[True] or self.in_use >= self.regular:
            return False
        # One backfill transaction at a time while someone edits (model.EDITING_WINDOW_S).
        editing = self.live_recently(self.editing_window_s)
        return not editing or self.in_use == self.urgent_in_use

    @property
    def live_busy(self) -> bool:
        """A live batch is under way or a live write waits or runs."""
        return self.held > 0 or self.urgent_in_use > 0 or len(self._waiting[True]) > 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """While held (a live batch is under way) backfill transactions yield before
        BEGIN (for at most max_yield_s)."""
        self.held += 1
        self._sync_quiet()
        try:
            yield
        finally:
            self.held -= 1
            self._wake()

    async def acquire(self, urgent: bool) -> None:
        if not urgent:
            await self._yield_to_live()
        if not self._waiting[urgent] and self.may_start(urgent):
            self._take(urgent)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[urgent].append(waiter)
        self._sync_quiet()
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(urgent)  # given a slot, then cancelled: hand it on
            else:
                self._waiting[urgent].remove(waiter)
                self._sync_quiet()
            raise

    async def backfill_turn(self) -> None:
        """Until a backfill transaction could take a slot at once (after yielding to
        live work as `acquire` does), without taking it: the writer decides how many
        rows the transaction holds only then, so a transaction that begins after a live
        edit is sized for an editing session even if its batch arrived before."""
        await self._yield_to_live()
        while self._waiting[False] or not self.may_start(False):
            turn = asyncio.get_running_loop().create_future()
            self._turns.append(turn)
            try:
                await turn
            finally:
                if turn in self._turns:
                    self._turns.remove(turn)

    async def _yield_to_live(self) -> None:
        if self.live_busy and self.max_yield_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._live_quiet.wait(), self.max_yield_s)

    def release(self, urgent: bool) -> None:
        self.in_use -= 1
        if urgent:
            self.urgent_in_use -= 1
        self._wake()

    def _take(self, urgent: bool) -> None:
        self.in_use += 1
        if urgent:
            self.urgent_in_use += 1
        self._sync_quiet()

    def _sync_quiet(self) -> None:
        if self.live_busy:
            self._live_at = time.monotonic()
            self._live_quiet.clear()
        else:
            self._live_quiet.set()

    def live_recently(self, window_s: float = LIVE_WINDOW_S) -> bool:
        """Live work now or within the last `window_s`."""
        return self.live_busy or time.monotonic() - self._live_at < window_s

    def _wake(self) -> None:
        """Hand free slots to waiters, live ones first; tell yielding backfill writes
        when live work is over."""
        self._sync_quiet()
        for urgent in (True, False):
            queue = self._waiting[urgent]
            while queue and self.may_start(urgent):
                waiter = queue.popleft()
                if waiter.done():
                    continue
                self._take(urgent)
                waiter.set_result(None)
        # Whoever waits for a turn looks again (a slot may be free).
        turns, self._turns = self._turns, []
        for turn in turns:
            if not turn.done():
                turn.set_result(None)


class TxBudget:
    """Rows per backfill transaction, from the measured rows/s of earlier ones."""

    def __init__(
        self,
        target_s: float,
        *,
        max_rows: int,
        min_rows: int = 200,
        first_rows: int = 1_000,
        weight: float = 0.3,
    ) -> None:
        self.target_s = target_s
        self.max_rows = max_rows
        self.min_rows = min_rows
        self.weight = weight
        self._first_rows = first_rows
        self.rows_per_s: float | None = None

    def rows(self) -> int:
        """Rows the next backfill transaction may hold (a file is never split, so one
        bigger file still goes alone)."""
        if self.target_s <= 0:
            return self.max_rows
        if self.rows_per_s is None:
            wanted = self._first_rows
        else:
            wanted = int(self.rows_per_s * self.target_s)
        return max(self.min_rows, min(self.max_rows, wanted))

    def observe(self, rows: int, seconds: float) -> None:
        """A committed backfill transaction of `rows` took `seconds` from BEGIN to
        COMMIT."""
        if rows <= 0 or seconds <= 0:
            return
        rate = rows / seconds
        if self.rows_per_s is None:
            self.rows_per_s = rate
        else:
            self.rows_per_s += self.weight * (rate - self.rows_per_s)
