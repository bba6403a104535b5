"""sd_notify over a real unix datagram socket the test owns (path and abstract)."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from lineaged.sdnotify import Notifier


@pytest.fixture
def listener(tmp_path: Path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def fields(datagram: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in datagram.decode().splitlines())


def test_messages_reach_the_socket(listener) -> None:
    sock, path = listener
    n = Notifier(path, watchdog_usec="")
    assert n.ready("running, files 3")
    assert fields(sock.recv(4096)) == {"READY": "1", "STATUS": "running, files 3"}
    n.watchdog()
    assert fields(sock.recv(4096)) == {"WATCHDOG": "1"}
    n.reloading()
    msg = fields(sock.recv(4096))
    assert msg["RELOADING"] == "1" and int(msg["MONOTONIC_USEC"]) > 0
    n.stopping()
    assert fields(sock.recv(4096)) == {"STOPPING": "1"}
    n.close()


def test_abstract_socket_address() -> None:
    name = f"lineaged-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        assert Notifier("@" + name, watchdog_usec="").status("hello")
        assert fields(sock.recv(4096)) == {"STATUS": "hello"}
    finally:
        sock.close()


def test_without_notify_socket_every_call_is_a_noop() -> None:
    n = Notifier("", watchdog_usec="")
    assert not n.enabled
    assert n.ready() is False
    assert n.watchdog() is False


def test_a_vanished_socket_is_reported_not_raised(tmp_path: Path) -> None:
    n = Notifier(str(tmp_path / "gone.sock"), watchdog_usec="")
    assert n.notify(READY=1) is False
    assert n.notify(READY=1) is False


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert Notifier("", watchdog_usec="4000000").watchdog_interval_s == 2.0
    assert Notifier("", watchdog_usec="").watchdog_interval_s is None
    assert Notifier("", watchdog_usec="0").watchdog_interval_s is None
    assert Notifier("", watchdog_usec="junk").watchdog_interval_s is None


def test_watchdog_meant_for_another_pid_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert Notifier("", watchdog_usec="4000000").watchdog_interval_s is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Notifier("", watchdog_usec="4000000").watchdog_interval_s == 2.0


def test_a_full_receiver_never_blocks_the_sender(listener) -> None:
    _sock, path = listener  # never read: its queue fills up
    n = Notifier(path, watchdog_usec="")
    results = [n.watchdog() for _ in range(1000)]
    assert results[0] is True and results[-1] is False
