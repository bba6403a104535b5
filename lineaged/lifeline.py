"""Worker processes die with the daemon, however it dies (kill -9 included).

Nothing else guarantees it. A ProcessPoolExecutor worker blocks reading its call queue,
whose write end it holds itself, so it never sees EOF; a forkserver lives as long as any
worker holds its "alive" pipe; the resource tracker lives as long as anyone holds its
pipe. After a SIGKILL of the daemon all of them ran on forever (~4 processes, 60-150 MB
each, per crash). systemd's KillMode would clean up under a unit, but not elsewhere.

So each worker, first thing:
- watches the daemon itself through a pidfd (Linux >= 5.3): a thread blocks in poll()
  on it at no cost and `_exit`s the worker the moment the daemon is gone. A pidfd names
  one process, so a recycled pid cannot fool it; where pidfd_open is missing, the
  thread polls the pid once a second instead;
- asks the kernel for SIGKILL when its direct parent dies (PR_SET_PDEATHSIG), which
  covers a forkserver killed on its own. Only when that parent is not the daemon:
  the signal follows the parent *thread*, and the daemon may start workers from any.
Once the workers are gone the forkserver sees EOF on its alive pipe and exits, and then
the resource tracker sees EOF and exits: nothing is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_EXIT_CODE = 70  # EX_SOFTWARE; never seen by anyone, the parent is gone


def die_with(daemon_pid: int) -> None:
    """Make the calling (worker) process exit when `daemon_pid` exits."""
    if os.getppid() != daemon_pid:
        _set_parent_death_signal()
    try:
        pidfd = os.pidfd_open(daemon_pid)
    except ProcessLookupError:
        os._exit(_EXIT_CODE)  # the daemon died while this worker was being started
    except (AttributeError, OSError):
        pidfd = None
    target = _wait_on_pidfd if pidfd is not None else _poll_pid
    watch = threading.Thread(
        target=target, args=(pidfd if pidfd is not None else daemon_pid,), daemon=True
    )
    watch.name = "lineaged-lifeline"
    watch.start()


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _wait_on_pidfd(pidfd: int) -> None:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    while not poller.poll():
        pass
    os._exit(_EXIT_CODE)


def _poll_pid(pid: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(_EXIT_CODE)
        except PermissionError:
            os._exit(_EXIT_CODE)  # the pid now belongs to another user: reused
