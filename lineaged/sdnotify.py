"""systemd's sd_notify protocol: one datagram per message to $NOTIFY_SOCKET.

A few lines instead of a dependency: the protocol is `KEY=VALUE` lines in one
datagram on a unix socket whose path is in NOTIFY_SOCKET ('@' = abstract namespace).
Without NOTIFY_SOCKET (not under systemd) every call is a no-op, and a send that
fails (or would block) is logged once and never raised: notification must never
stall or take down the daemon.
"""

from __future__ import annotations

import os
import socket
import time

import structlog

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, address: str | None = None, watchdog_usec: str | None = None) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "") if address is None else address
        self._address = _socket_address(address) if address else None
        self._sock: socket.socket | None = None
        self._failed = False
        usec = os.environ.get("WATCHDOG_USEC", "") if watchdog_usec is None else watchdog_usec
        self.watchdog_interval_s = _watchdog_interval(usec)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, **fields: object) -> bool:
        """Send e.g. notify(READY=1, STATUS="…"); keys are sent upper-case, in order."""
        if self._address is None:
            return False
        message = "\n".join(f"{k.upper()}={v}" for k, v in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # Never block the event loop: a unix datagram socket blocks the sender
                # while the receiver's queue is full; dropping a ping is the lesser harm.
                self._sock.setblocking(False)
            self._sock.sendto(message, self._address)
            return True
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("sd_notify_failed", error=str(exc))
            return False

    def ready(self, status: str = "") -> bool:
        return self.notify(READY=1, STATUS=status) if status else self.notify(READY=1)

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match this to the
        # reload it asked for; older systemd ignores the extra field.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(RELOADING=1, MONOTONIC_USEC=usec)

    def stopping(self, status: str = "") -> bool:
        return self.notify(STOPPING=1, STATUS=status) if status else self.notify(STOPPING=1)

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


def _watchdog_interval(usec: str) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of systemd's WatchdogSec, as sd_watchdog_enabled
    recommends; None when the watchdog is off. WATCHDOG_PID, when set, must be us."""
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2 / 1_000_000 if value > 0 else None
