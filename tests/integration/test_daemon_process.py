"""The real daemon as a subprocess (`.venv/bin/lineaged run`) against the real Neo4j:
sd_notify messages on a NOTIFY_SOCKET the test owns, /metrics and /healthz, SIGHUP with
a changed root and with an invalid config, SIGTERM in the middle of an ingest."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lineaged.cli.status import parse_metrics

from .configs import config_text, process_env
from .graphs import dump, query, wait_for

LINEAGED = Path(sys.executable).with_name("lineaged")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(
    path: Path, root: Path, state: Path, port: int, extra: str = "", max_batch: int = 500
) -> None:
    sections = f"""
[batch]
debounce_ms = 20
max_batch = {max_batch}

[service]
metrics_address = "127.0.0.1:{port}"
drain_deadline_s = 20
status_interval_s = 0.5
{extra}
"""
    path.write_text(config_text(root, state, workers=1, extra=sections))


class Notifications:
    """A NOTIFY_SOCKET owned by the test; a thread collects every datagram the daemon
    sends (as systemd would: promptly, whatever the test is doing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(dict(x.split("=", 1) for x in data.decode().splitlines()))

    def wait(self, key: str, value: str | None = None, after: int = 0, timeout: float = 60) -> int:
        """Index of the first message from `after` on with `key` (= `value`)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(list(self.messages[after:]), start=after):
                if key in m and (value is None or m[key] == value):
                    return i
            if time.monotonic() > deadline:
                raise AssertionError(f"no {key} from the daemon; got {self.messages[-5:]}")
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


class DaemonProcess:
    def __init__(
        self,
        config: Path,
        server: Any,
        notify: Notifications | None,
        log: Path,
        *,
        own_group: bool = False,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        env = process_env(server, WATCHDOG_USEC="1000000")
        if notify is not None:
            env["NOTIFY_SOCKET"] = str(notify.path)
        self.log = log
        self._log_fh = log.open("ab")
        self.proc = subprocess.Popen(
            [str(LINEAGED), "run", "-c", str(config), "--log-format", "json"],
            env=env,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            # Its own process group: a test that SIGKILLs the daemon can then reap the
            # workers a killed parent leaves behind.
            start_new_session=own_group,
            preexec_fn=preexec_fn,
        )

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log_fh.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log_fh.close()

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[Notifications]:
    n = Notifications(tmp_path / "notify.sock")
    yield n
    n.close()


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


async def file_shas(graph: Any) -> dict[str, str | None]:
    rows = await query(graph, "MATCH (f:File) RETURN f.path AS path, f.sha256 AS sha")
    return {r["path"]: r["sha"] for r in rows}


def sql(table: str, source: str) -> str:
    return f"INSERT INTO mart.{table} SELECT id, name FROM raw.{source}\n"


async def test_notify_metrics_healthz_and_reload(
    graph: Any, neo4j_server: Any, tmp_path: Path, notify: Notifications
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "one.sql").write_text(sql("one", "x"))
    (b / "two.sql").write_text(sql("two", "y"))
    (b / "three.sql").write_text(sql("three", "z"))
    cfg, port = tmp_path / "config.toml", free_port()
    write_config(cfg, a, tmp_path / "state", port)
    url = f"http://127.0.0.1:{port}"
    daemon = DaemonProcess(cfg, neo4j_server, notify, tmp_path / "daemon.log")
    try:
        ready = notify.wait("READY", "1")
        await wait_for(lambda: file_shas(graph), lambda f: set(f) == {"one.sql"}, timeout=90)
        # STATUS= with live counters and WATCHDOG=1 (WATCHDOG_USEC=1 s → every 0.5 s).
        notify.wait("STATUS", after=ready)
        first_ping = notify.wait("WATCHDOG", "1", after=ready)
        notify.wait("WATCHDOG", "1", after=first_ping + 1)
        # STATUS= carries live counters: the file just written shows up within a tick.
        deadline = time.monotonic() + 10
        while not any("files 1 parsed 1" in m.get("STATUS", "") for m in notify.messages):
            assert time.monotonic() < deadline, [m for m in notify.messages if "STATUS" in m]
            await asyncio.sleep(0.1)

        # /healthz turns 200 once the cached Neo4j check has run; /metrics says running.
        async def health() -> int:
            return (await asyncio.to_thread(http_get, url + "/healthz"))[0]

        await wait_for(health, lambda code: code == 200, timeout=20)
        code, text = http_get(url + "/metrics")
        st = parse_metrics(text)
        assert code == 200 and st.state == "running" and st.healthy
        assert st.files["parsed"] == 1 and st.write_rows > 0
        assert "lineaged_event_to_graph_seconds_count" in text
        assert "lineaged_driver_connections_in_use" in text
        assert st.rss_bytes["daemon"] > 0

        # SIGHUP with the root pointing elsewhere: the changed root is reconciled.
        write_config(cfg, b, tmp_path / "state", port)
        mark = len(notify.messages)
        daemon.signal(signal.SIGHUP)
        reloading = notify.wait("RELOADING", "1", after=mark)
        notify.wait("READY", "1", after=reloading)
        await wait_for(
            lambda: file_shas(graph), lambda f: set(f) == {"two.sql", "three.sql"}, timeout=30
        )
        # The new root is watched, the old one no longer is.
        (b / "four.sql").write_text(sql("four", "w"))
        (a / "late.sql").write_text(sql("late", "v"))
        await wait_for(lambda: file_shas(graph), lambda f: "four.sql" in f)

        # SIGHUP with an invalid config: rejected with a log line, the old one stays.
        write_config(cfg, b, tmp_path / "state", port, extra="bogus_key = 1\n")
        mark = len(notify.messages)
        daemon.signal(signal.SIGHUP)
        notify.wait("READY", "1", after=mark)
        await wait_for(
            lambda: asyncio.sleep(0, daemon.logs()), lambda logs: "reload_rejected" in logs
        )
        assert "unknown key 'service.bogus_key'" in daemon.logs()
        (b / "five.sql").write_text(sql("five", "u"))
        await wait_for(lambda: file_shas(graph), lambda f: "five.sql" in f)
        assert "late.sql" not in await file_shas(graph)
        assert daemon.proc.poll() is None

        mark = len(notify.messages)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
        notify.wait("STOPPING", "1", after=mark, timeout=5)
        assert http_get(url + "/healthz")[0] == 0  # the server is gone with the process
    finally:
        daemon.kill()


def make_corpus(root: Path, n: int, *, salt: int = 0) -> None:
    # Wide files so that one worker takes a few seconds over the whole tree; `salt`
    # changes every file's content (and hash) without changing its lineage.
    columns = ", ".join(f"c{i}" for i in range(40))
    for i in range(n):
        sub = root / f"d{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:04}.sql").write_text(
            f"INSERT INTO mart.t{i} SELECT {columns} FROM raw.s{i % 37} "
            f"JOIN raw.k{i % 11} USING (c0) WHERE c1 > {i + salt * n};\n"
        )


def disk_shas(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*.sql")
    }


async def run_until_graph_matches(
    cfg: Path, server: Any, graph: Any, on_disk: dict[str, str], log: Path
) -> None:
    """Start the daemon, wait until the graph's files and hashes equal `on_disk`, stop."""
    daemon = DaemonProcess(cfg, server, None, log)
    try:
        await wait_for(lambda: file_shas(graph), lambda f: f == on_disk, timeout=120)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
    finally:
        daemon.kill()


async def test_sigterm_mid_ingest_then_restart_matches_a_clean_ingest(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    n = 600
    make_corpus(root, n)
    on_disk = disk_shas(root)
    cfg = tmp_path / "config.toml"
    # Small batches: many commits, so a stop lands between some of them.
    write_config(cfg, root, tmp_path / "state", free_port(), max_batch=20)
    log = tmp_path / "daemon.log"

    daemon = DaemonProcess(cfg, neo4j_server, None, log)
    try:
        await wait_for(lambda: file_shas(graph), lambda f: len(f) >= 20, timeout=60)
        daemon.signal(signal.SIGTERM)
        started = time.monotonic()
        assert daemon.wait(60) == 0, daemon.logs()[-3000:]
        drain_s = time.monotonic() - started
    finally:
        daemon.kill()
    acknowledged = await file_shas(graph)
    assert 20 <= len(acknowledged) < n, "the stop did not land mid-ingest"
    # Everything the graph holds is exactly what is on disk: no torn or stale files.
    assert all(on_disk[p] == sha for p, sha in acknowledged.items())
    assert drain_s < 20 + 5
    assert "daemon_stopped" in daemon.logs()

    await run_until_graph_matches(cfg, neo4j_server, graph, on_disk, log)
    resumed = await dump(graph)

    # A clean full ingest of the same tree, for comparison.
    await graph.execute_query("MATCH (n) DETACH DELETE n", database_="neo4j")
    env = process_env(neo4j_server)
    clean_state = tmp_path / "clean-state"
    write_config(cfg, root, clean_state, free_port())
    scan = subprocess.run(
        [str(LINEAGED), "scan", "-c", str(cfg), "--log-format", "json", "--progress", "never"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert scan.returncode == 0, scan.stderr[-3000:]
    assert f"scan: {n} files" in scan.stdout
    assert await dump(graph) == resumed


def slow_sql(statements: int) -> str:
    """One file whose extraction takes minutes here (~3-12 ms per statement): a worker
    is busy with it for far longer than the test waits."""
    return "\n".join(
        f"INSERT INTO t.x{i} SELECT a, b + c AS d FROM s.y{i} JOIN s.z ON s.z.k = s.y{i}.k;"
        for i in range(statements)
    )


async def test_second_sigterm_cuts_a_slow_drain_short_and_still_closes(
    graph: Any, neo4j_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "sql"
    root.mkdir()
    (root / "slow.sql").write_text(slow_sql(20_000))
    # The drain would wait for that parse: a long deadline and task timeout, so only the
    # second signal can end it early.
    monkeypatch.setenv("LINEAGED_SERVICE_DRAIN_DEADLINE_S", "600")
    monkeypatch.setenv("LINEAGED_POOL_TASK_TIMEOUT_S", "900")
    port = free_port()
    cfg = tmp_path / "config.toml"
    write_config(cfg, root, tmp_path / "state", port)
    daemon = DaemonProcess(cfg, neo4j_server, None, tmp_path / "daemon.log")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while "lineaged_parse_in_flight 1.0" not in http_get(url + "/metrics")[1]:
            assert time.monotonic() < deadline, daemon.logs()[-3000:]
            time.sleep(0.2)
        daemon.signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while '"step": "flush_batchers"' not in daemon.logs():
            assert time.monotonic() < deadline, daemon.logs()[-3000:]
            time.sleep(0.1)
        time.sleep(0.5)  # the drain now waits for the worker
        assert daemon.proc.poll() is None, "the drain ended before the second signal"
        daemon.signal(signal.SIGTERM)
        started = time.monotonic()
        code = daemon.wait(60)
        took = time.monotonic() - started
    finally:
        daemon.kill()
    logs = daemon.logs()
    assert code == 143, logs[-3000:]
    assert took < 30, f"exit took {took:.1f} s after the second SIGTERM"
    after = logs[logs.index("second_signal_cancelling_drain") :]
    for step in ("close_driver", "close_cache"):
        assert f'"step": "{step}"' in after, f"{step} did not run after the second signal"
    assert "drain_cut_short" in after and "daemon_stopped" in after
