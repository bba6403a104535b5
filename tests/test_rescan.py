"""RescanScheduler: a storm of rescan requests costs one running scan plus one follow-up."""

from __future__ import annotations

import anyio
import pytest

from lineaged.reconcile import RescanScheduler


async def test_requests_during_a_scan_collapse_into_one_follow_up() -> None:
    started: list[str] = []
    gate = anyio.Event()

    async def scan(root: str) -> None:
        started.append(root)
        await gate.wait()

    s = RescanScheduler(scan)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            s.attach(tg)
            s.request("a", "overflow")
            await anyio.sleep(0)
            for _ in range(100):
                s.request("a", "directory created")
            s.request("b", "overflow")
            await anyio.sleep(0)
            assert started == ["a", "b"]
            assert s.busy
            gate.set()
    assert started == ["a", "b", "a"], "exactly one follow-up scan for the 100 requests"
    assert s.requested == 102 and s.scans == 3 and not s.busy


async def test_a_failing_scan_does_not_stop_later_ones() -> None:
    calls = 0

    async def scan(_root: str) -> None:
        nonlocal calls
        calls += 1
        raise OSError("graph unavailable")

    s = RescanScheduler(scan)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            s.attach(tg)
            s.request("a")
        async with anyio.create_task_group() as tg:
            s.attach(tg)
            s.request("a")
    assert calls == 2


async def test_a_request_needs_an_owning_task_group() -> None:
    async def scan(_root: str) -> None: ...

    with pytest.raises(RuntimeError, match="attach"):
        RescanScheduler(scan).request("a")


async def test_periodic_rescans_every_root_and_can_be_switched_off() -> None:
    scanned: list[str] = []

    async def scan(root: str) -> None:
        scanned.append(root)

    s = RescanScheduler(scan)
    interval = [0.01]
    async with anyio.create_task_group() as tg:
        s.attach(tg)
        tg.start_soon(s.periodic, lambda: interval[0], lambda: ["a", "b"])
        with anyio.fail_after(5):
            while len(scanned) < 4:
                await anyio.sleep(0.01)
        assert set(scanned) == {"a", "b"}
        interval[0] = 0  # off: sleeps 60 s between looks, so nothing more happens here
        await anyio.sleep(0.05)
        count = len(scanned)
        await anyio.sleep(0.05)
        assert len(scanned) == count
        tg.cancel_scope.cancel()
