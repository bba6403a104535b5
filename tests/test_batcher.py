from __future__ import annotations

import asyncio

from lineaged.batcher import Batch, Batcher
from lineaged.model import Change, FileEvent, FileRef


def ev(path: str, change: Change = Change.CHANGED, created: bool = False) -> FileEvent:
    return FileEvent(FileRef("r", path), f"/r/{path}", change, created=created)


async def collect(b: Batcher, n: int, timeout: float = 5.0) -> list[Batch]:
    out: list[Batch] = []

    async def run() -> None:
        async for batch in b.batches():
            out.append(batch)
            if len(out) == n:
                return

    await asyncio.wait_for(run(), timeout)
    return out


async def test_last_event_per_path_wins() -> None:
    b = Batcher(debounce_s=0.05)
    b.add(ev("a.sql"))
    b.add(ev("a.sql", Change.DELETED))
    b.add(ev("b.sql"))
    b.add(ev("a.sql"))
    [batch] = await collect(b, 1)
    assert {r.path: e.change for r, e in batch.items()} == {
        "a.sql": Change.CHANGED,
        "b.sql": Change.CHANGED,
    }
    assert b.stats.events_in == 4 and b.stats.files_out == 2
    assert b.stats.dedupe_ratio == 2.0


async def test_create_then_delete_in_one_window_cancels_out() -> None:
    b = Batcher(debounce_s=0.05)
    b.add(ev("tmp.sql", created=True))
    b.add(ev("tmp.sql"))  # modify after create keeps the "created" mark
    b.add(ev("tmp.sql", Change.DELETED))
    b.add(ev("keep.sql"))
    [batch] = await collect(b, 1)
    assert [r.path for r in batch] == ["keep.sql"]
    assert b.stats.cancelled == 1


async def test_delete_of_preexisting_file_is_not_cancelled() -> None:
    b = Batcher(debounce_s=0.05)
    b.add(ev("old.sql"))  # modified: existed before the window
    b.add(ev("old.sql", Change.DELETED))
    [batch] = await collect(b, 1)
    assert batch[FileRef("r", "old.sql")].change is Change.DELETED


async def test_size_threshold_splits_batches() -> None:
    b = Batcher(debounce_s=10, max_batch=3, max_latency_s=10)
    for i in range(7):
        b.add(ev(f"{i}.sql"))
    b.close()
    batches = await collect(b, 3)
    assert [len(x) for x in batches] == [3, 3, 1]


async def test_steady_stream_cannot_starve_a_flush() -> None:
    # Events every 10 ms with a 100 ms debounce would never go quiet; max latency
    # must release a batch while the stream is still running.
    b = Batcher(debounce_s=0.1, max_latency_s=0.15)
    got: list[Batch] = []

    async def produce() -> None:
        for i in range(60):
            b.add(ev(f"{i % 5}.sql"))
            await asyncio.sleep(0.01)

    async def consume() -> None:
        async for batch in b.batches():
            got.append(batch)

    consumer = asyncio.create_task(consume())
    await produce()
    produced_all_before_first_flush = not got
    consumer.cancel()
    assert not produced_all_before_first_flush


async def test_manual_flush_releases_before_the_window() -> None:
    b = Batcher(debounce_s=60)
    b.add(ev("a.sql"))
    b.flush()
    [batch] = await collect(b, 1, timeout=2)
    assert list(batch) == [FileRef("r", "a.sql")]


async def test_close_yields_pending_then_ends_and_ignores_new_events() -> None:
    b = Batcher(debounce_s=60)
    b.add(ev("a.sql"))
    b.close()
    b.add(ev("late.sql"))
    batches = [x async for x in b.batches()]
    assert [list(x) for x in batches] == [[FileRef("r", "a.sql")]]


def done(path: str) -> FileEvent:
    """The writer closed the file (IN_CLOSE_WRITE) or renamed it into place."""
    return FileEvent(FileRef("r", path), f"/r/{path}", Change.CHANGED, complete=True)


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_realtime_batch_goes_once_every_file_in_it_is_complete() -> None:
    """Realtime: a save is released when its file is complete, not after the window;
    a file still being written (modified, not yet closed) holds the batch."""
    b = Batcher(debounce_s=10.0, max_latency_s=60.0, release_when_complete=True, clock=Clock())
    b.add(ev("a.sql"))  # modified: more may come
    assert b._due_in() == 10.0
    b.add(done("a.sql"))
    assert b._due_in() == 0.0
    b.add(ev("b.sql"))
    assert b._due_in() == 10.0
    b.add(done("b.sql"))
    b.add(ev("c.sql", created=True))
    assert b._due_in() == 10.0
    b.add(done("c.sql"))
    assert b._due_in() == 0.0
    [event] = [e for r, e in b._take().items() if r.path == "c.sql"]
    assert event.created and event.complete  # create + close: still a creation


def test_without_realtime_a_complete_file_waits_for_the_window() -> None:
    b = Batcher(debounce_s=10.0, max_latency_s=60.0, clock=Clock())
    b.add(done("a.sql"))
    assert b._due_in() == 10.0


async def test_a_closed_file_is_released_before_a_long_window() -> None:
    b = Batcher(debounce_s=60.0, max_latency_s=120.0, release_when_complete=True)
    b.add(ev("a.sql"))
    b.add(done("a.sql"))
    [batch] = await collect(b, 1, timeout=30.0)
    assert list(batch) == [FileRef("r", "a.sql")]
    b.add(done("b.sql"))
    b.add(ev("a.sql"))  # a second file still being written: the window applies
    assert b._due_in() > 30.0
