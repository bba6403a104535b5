"""Run a child where file modes apply, even when the tests run as root (as CI does).

Root reads and lists everything through two capabilities, CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH. `drop_file_mode_override` (a `preexec_fn`) removes both from the
child's bounding set before it execs, so the new program runs as root without them:
a directory or file with mode 0 is refused to it like to anyone else, while everything
root owns with owner permissions (the interpreter under /root, the venv, pytest's temp
directories) stays usable. Unprivileged users need nothing: modes already apply.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def _drop() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_CAPBSET_DROP, {cap}): {os.strerror(err)}")


def drop_file_mode_override() -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess: None when file modes already apply to us."""
    return _drop if os.geteuid() == 0 else None
