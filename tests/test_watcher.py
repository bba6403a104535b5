"""The watcher with a real watchdog observer on temp directories: what editors and tools
do, and every way inotify loses events (a real kernel-queue overflow, an injected one,
refused watches) ending in a rescan request."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lineaged.config import RootSettings
from lineaged.model import Change, FileEvent, Priority
from lineaged.paths import RootMatcher
from lineaged.watcher import Watcher

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify only")


@dataclass
class Seen:
    events: list[FileEvent] = field(default_factory=list)
    rescans: list[tuple[str, str]] = field(default_factory=list)

    def last(self) -> dict[str, Change]:
        """Final state per relative path, in arrival order (what the batcher keeps)."""
        out: dict[str, Change] = {}
        for ev in self.events:
            out[ev.ref.path] = ev.change
        return out


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def settle() -> None:
    """Let in-flight events arrive (an unpaired move is held up to 0.5 s by watchdog)."""
    await asyncio.sleep(0.7)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


async def watching(root: Path, **root_kw: object) -> tuple[Watcher, Seen]:
    seen = Seen()
    m = RootMatcher(RootSettings("r", root, **root_kw))  # type: ignore[arg-type]
    w = Watcher([m], seen.events.append, lambda r, why: seen.rescans.append((r, why)))
    w.start()
    return w, seen


@pytest.fixture
async def watched(root: Path) -> AsyncIterator[tuple[Path, Seen]]:
    w, seen = await watching(root, critical=("hot/**",))
    try:
        yield root, seen
    finally:
        w.stop()


async def test_atomic_save_is_one_change_of_the_target(watched: tuple[Path, Seen]) -> None:
    root, seen = watched
    target = root / "a.sql"
    target.write_text("select 1")
    await until(lambda: "a.sql" in seen.last())
    seen.events.clear()
    # What vim / VS Code / sed -i do: write a temp file, rename it over the original.
    tmp = root / ".a.sql.swp"
    tmp.write_text("select 2")
    os.replace(tmp, target)
    await until(lambda: seen.last().get("a.sql") is Change.CHANGED)
    await settle()
    assert seen.last() == {"a.sql": Change.CHANGED}, "temp file leaked or target deleted"


async def test_move_in_and_out_of_the_root(watched: tuple[Path, Seen], tmp_path: Path) -> None:
    root, seen = watched
    outside = tmp_path / "outside.sql"
    outside.write_text("select 1")
    shutil.move(outside, root / "in.sql")
    await until(lambda: seen.last().get("in.sql") is Change.CHANGED)
    shutil.move(root / "in.sql", tmp_path / "gone.sql")
    await until(lambda: seen.last().get("in.sql") is Change.DELETED)


async def test_directory_rename_moves_every_file_below(watched: tuple[Path, Seen]) -> None:
    root, seen = watched
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "a.sql").write_text("select 1")
    (root / "d" / "sub" / "b.sql").write_text("select 1")
    await until(lambda: {"d/a.sql", "d/sub/b.sql"} <= set(seen.last()))
    seen.rescans.clear()
    os.rename(root / "d", root / "e")
    want = {
        "d/a.sql": Change.DELETED,
        "d/sub/b.sql": Change.DELETED,
        "e/a.sql": Change.CHANGED,
        "e/sub/b.sql": Change.CHANGED,
    }
    await until(lambda: want.items() <= seen.last().items())
    await until(lambda: any("moved" in why for _r, why in seen.rescans))


async def test_directory_moved_out_or_deleted_asks_for_a_rescan(
    watched: tuple[Path, Seen], tmp_path: Path
) -> None:
    root, seen = watched
    for name in ("out", "rm"):
        (root / name).mkdir()
        (root / name / "a.sql").write_text("select 1")
    await until(lambda: {"out/a.sql", "rm/a.sql"} <= set(seen.last()))
    seen.rescans.clear()
    # Moved out of the root: inotify reports the directory only, never its files.
    shutil.move(root / "out", tmp_path / "elsewhere")
    await until(lambda: any("deleted" in why for _r, why in seen.rescans))
    shutil.rmtree(root / "rm")
    await until(lambda: seen.last().get("rm/a.sql") is Change.DELETED)


async def test_vanishing_file_ends_deleted(watched: tuple[Path, Seen]) -> None:
    root, seen = watched
    f = root / "v.sql"
    f.write_text("select 1")
    f.unlink()
    await until(lambda: seen.last().get("v.sql") is Change.DELETED)
    assert seen.events[0].created, "the create must be marked so the batcher can cancel it"


async def test_symlinks_out_of_the_root_are_not_followed(
    watched: tuple[Path, Seen], tmp_path: Path
) -> None:
    root, seen = watched
    outside = tmp_path / "shared.sql"
    outside.write_text("select 1")
    (root / "inner.sql").write_text("select 1")
    os.symlink(outside, root / "out_link.sql")
    os.symlink(root / "inner.sql", root / "in_link.sql")
    await until(lambda: {"out_link.sql", "in_link.sql"} <= set(seen.last()))
    assert seen.last()["out_link.sql"] is Change.DELETED
    assert seen.last()["in_link.sql"] is Change.CHANGED


async def test_follow_symlinks_when_configured(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "shared.sql"
    outside.write_text("select 1")
    w, seen = await watching(root, follow_symlinks=True)
    try:
        os.symlink(outside, root / "out_link.sql")
        await until(lambda: seen.last().get("out_link.sql") is Change.CHANGED)
    finally:
        w.stop()


async def test_critical_globs_get_critical_priority(watched: tuple[Path, Seen]) -> None:
    root, seen = watched
    (root / "hot").mkdir()
    (root / "hot" / "x.sql").write_text("select 1")
    (root / "cold.sql").write_text("select 1")
    await until(lambda: {"hot/x.sql", "cold.sql"} <= set(seen.last()))
    prio = {ev.ref.path: ev.priority for ev in seen.events}
    assert prio["hot/x.sql"] is Priority.CRITICAL
    assert prio["cold.sql"] is Priority.HIGH


async def test_injected_queue_overflow_asks_for_a_rescan(root: Path) -> None:
    from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

    w, seen = await watching(root)
    try:
        # Exactly what the kernel puts in the queue: wd -1, mask IN_Q_OVERFLOW.
        fd = w._observer.inotify_fd  # type: ignore[union-attr]
        fd.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
        await until(lambda: any("overflow" in why for _r, why in seen.rescans))
        assert w.troubles == 1
    finally:
        w.stop()


def _max_queued_events() -> int:
    try:
        return int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    except OSError:
        return 0


@pytest.mark.skipif(not 0 < _max_queued_events() <= 65536, reason="queue too large to fill")
async def test_real_kernel_queue_overflow_asks_for_a_rescan(root: Path) -> None:
    w, seen = await watching(root)
    fd = w._observer.inotify_fd  # type: ignore[union-attr]
    # Hold the reader thread (it takes this lock after each read) while creating more
    # files than the kernel queue can hold: each file is IN_CREATE + IN_CLOSE_WRITE.
    files = _max_queued_events() // 2 + 2048 + 1000
    try:
        with fd._lock:
            for i in range(files):
                (root / f"f{i:05}.sql").write_bytes(b"select 1")
        await until(lambda: any("overflow" in why for _r, why in seen.rescans), timeout=30)
        assert len({ev.ref.path for ev in seen.events}) < files, "nothing was lost?"
    finally:
        w.stop()


async def test_refused_watches_ask_for_a_rescan(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchdog.observers.inotify_c import InotifyFD

    real_add = InotifyFD.add_callback

    def add_callback(self: InotifyFD, path: bytes, *args: object, **kw: object) -> object:
        if b"deep" in path:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")
        return real_add(self, path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(InotifyFD, "add_callback", add_callback)
    (root / "deep").mkdir()
    w, seen = await watching(root)
    try:
        await until(lambda: any("cannot add watch" in why for _r, why in seen.rescans))
        # A directory created later that cannot be watched is reported the same way.
        seen.rescans.clear()
        (root / "x" / "deeper").mkdir(parents=True)
        await until(lambda: any("cannot add watch" in why for _r, why in seen.rescans))
    finally:
        w.stop()


async def test_a_root_that_cannot_be_watched_is_rescanned_not_fatal(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchdog.observers.inotify_c import InotifyFD

    def refuse(self: InotifyFD, path: bytes, *args: object, **kw: object) -> object:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(InotifyFD, "add_callback", refuse)
    w, seen = await watching(root)
    try:
        await until(lambda: any("cannot watch root" in why for _r, why in seen.rescans))
    finally:
        w.stop()


def test_directory_link_loops_are_watched_once_and_logged_once(tmp_path: Path) -> None:
    """`ln -s . sub/link; ln -s . sub/link2` with follow_symlinks: every directory is
    watched once (by device and inode), under its real path; the loop is logged once.
    In a child with 1 GiB of address space and a deadline: following the loop paths
    would never end."""
    import json
    import resource
    import subprocess

    root = tmp_path / "root"
    (root / "sub" / "deep").mkdir(parents=True)
    os.symlink(".", root / "sub" / "link")
    os.symlink(".", root / "sub" / "link2")
    os.symlink("..", root / "sub" / "deep" / "up")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, outside / "self")
    os.symlink(outside, root / "out")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("watch_loops.py")), str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.splitlines()[-1])
    # root, sub, sub/deep and the outside directory: nothing twice.
    assert seen["watches"] == 4
    assert seen["events"] == ["sub/new.sql"]
    assert 1 <= len(seen["loops"]) <= 3  # one line per looping directory, not per path
    assert all(len(json.dumps(e)) < 1000 for e in seen["loops"])


def test_a_permission_fix_is_seen_at_once_and_the_opened_directory_is_watched(
    tmp_path: Path,
) -> None:
    """A directory and a file closed to the daemon when it starts (as root too: the
    child runs without the capabilities that let root ignore file modes). chmod opens
    them: the directory's files, below it too, are reported at once, the file is
    reported changed, and later edits in the opened directory are seen (it is watched
    now). Old code: no event at all until the next rescan."""
    import json
    import subprocess

    from unprivileged import drop_file_mode_override

    root = tmp_path / "root"
    (root / "closed" / "sub").mkdir(parents=True)
    (root / "closed" / "a.sql").write_text("select 1")
    (root / "closed" / "sub" / "b.sql").write_text("select 2")
    (root / "f.sql").write_text("select 3")
    (root / "f.sql").chmod(0)
    (root / "closed").chmod(0)
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("watch_permissions.py")), str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=drop_file_mode_override(),
    )
    assert child.stdin is not None and child.stdout is not None

    def report(until: Callable[[dict[str, Any]], bool] = lambda _r: True) -> dict[str, Any]:
        """The child's report, asked again (about once a second) until `until` holds
        or 60 s have passed: events may arrive late on a loaded machine."""
        assert child.stdin is not None and child.stdout is not None
        deadline = time.monotonic() + 60
        while True:
            child.stdin.write("report\n")
            child.stdin.flush()
            got = json.loads(child.stdout.readline())
            if until(got) or time.monotonic() > deadline:
                return got

    try:
        start = json.loads(child.stdout.readline())
        assert start == {"closed": True}  # file modes do apply to the child
        before = report()
        assert before["events"] == [] and before["watches"] == 1  # just the root

        (root / "closed").chmod(0o755)
        (root / "f.sql").chmod(0o644)
        opened = report(until=lambda r: len(r["events"]) >= 3 and r["rescans"])
        created = {p for p, change, new in opened["events"] if change == "CHANGED" and new}
        assert created == {"closed/a.sql", "closed/sub/b.sql"}
        assert ["f.sql", "CHANGED", False] in opened["events"]
        assert opened["watches"] == 3  # root, closed, closed/sub
        assert "directory_now_readable" in opened["logs"]
        assert any("closed" in why for why in opened["rescans"])

        (root / "closed" / "sub" / "later.sql").write_text("select 4")
        later = report(until=lambda r: len(r["events"]) > len(opened["events"]))
        assert "closed/sub/later.sql" in {p for p, _, _ in later["events"]}
    finally:
        (root / "closed").chmod(0o755)
        child.stdin.close()
        try:
            child.wait(30)
        finally:
            child.kill()
    assert child.returncode == 0, child.stderr.read()[-2000:] if child.stderr else ""


async def test_a_written_and_closed_or_renamed_file_ends_complete(
    watched: tuple[Path, Seen],
) -> None:
    """IN_CLOSE_WRITE and a rename into place say the content is all there (a realtime
    batch then goes at once); a modification or attribute change alone does not."""
    root, seen = watched
    target = root / "a.sql"
    target.write_text("select 1")
    await until(lambda: any(e.complete for e in seen.events))
    await settle()
    assert [e.complete for e in seen.events if e.ref.path == "a.sql"][-1]
    seen.events.clear()
    os.utime(target)  # attributes only
    await until(lambda: bool(seen.events))
    await settle()
    assert not any(e.complete for e in seen.events)
    seen.events.clear()
    tmp = root / ".a.sql.swp"
    tmp.write_text("select 2")
    os.replace(tmp, target)
    await until(lambda: any(e.ref.path == "a.sql" for e in seen.events))
    await settle()
    assert [e.complete for e in seen.events if e.ref.path == "a.sql"][-1]
