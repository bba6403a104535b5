"""gc_paused: the collector is off inside, back on after (also after an error), and a
pause never turns on a collector that someone else had turned off."""

from __future__ import annotations

import gc

import pytest

from lineaged.gcpause import DAEMON_THRESHOLDS, daemon_collector, gc_paused


@pytest.fixture(autouse=True)
def _restore_gc():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_pause_nests_and_restores() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the inner pause must not re-enable"
    assert gc.isenabled()


def test_pause_restores_after_an_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_end_with_the_collector_on() -> None:
    gc.enable()
    first, second = gc_paused(), gc_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_daemon_thresholds_hold_while_it_runs_and_are_restored() -> None:
    before = gc.get_threshold()
    with daemon_collector():
        assert gc.get_threshold() == DAEMON_THRESHOLDS
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), daemon_collector():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before


async def test_a_daemon_runs_with_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Daemon.run, start-up to shutdown, under daemon_collector (a start-up that stops
    at once: no Neo4j needed)."""
    from lineaged.config import Settings
    from lineaged.daemon import Daemon

    seen: list[tuple[int, int, int]] = []

    async def startup(self: Daemon) -> None:
        seen.append(gc.get_threshold())
        self.request_stop("test")

    monkeypatch.setattr(Daemon, "startup", startup)
    before = gc.get_threshold()
    await Daemon(Settings()).run()
    assert seen == [DAEMON_THRESHOLDS]
    assert gc.get_threshold() == before
