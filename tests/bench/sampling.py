"""Sampling profiles of this process for the benches (py-spy, a test extra).

    with sampled("warm restart", top=25):
        await scan(settings)

py-spy samples every thread (the reconcile walk runs in a worker thread, which cProfile
would not see) from outside the process, so the phase runs at full speed. On leaving the
block it prints the functions with most samples on top of the stack (self) and anywhere
on it (inclusive), as % of the phase's samples. Idle threads are not sampled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


def _frame_name(frame: str) -> str:
    # py-spy's raw format: "function (path/to/module.py:line)"; keep "module.py:function".
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{module}:{name}" if module else name


def summarize(raw: str, top: int) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")[1:]]  # [0] is the thread
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return "  (no samples)"
    lines = [f"  {total} samples; self % | inclusive % | function"]
    for name, count in own.most_common(top):
        lines.append(
            f"  {100 * count / total:6.1f} | {100 * inclusive[name] / total:6.1f} | {name}"
        )
    lines.append("  -- inclusive only --")
    for name, count in inclusive.most_common(top):
        lines.append(f"  {'':6} | {100 * count / total:6.1f} | {name}")
    return "\n".join(lines)


@contextlib.contextmanager
def sampled(
    label: str, *, enabled: bool = True, top: int = 25, rate: int = 250, pid: int | None = None
) -> Iterator[None]:
    """Samples this process, or `pid` (a child the block waits for)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not enabled or not Path(spy).exists():
        if enabled:
            print(f"[profile {label}] py-spy not installed (pip install -e .[test])")
        yield
        return
    out = Path(tempfile.mkdtemp(prefix="lineaged-spy-")) / "stacks.txt"
    proc = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(os.getpid() if pid is None else pid),
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)  # attached before the phase starts
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        # A frame's text may hold bytes that are not UTF-8 (py-spy copies them from the
        # target's memory): one such byte made a 20k-file rebuild's profile unreadable.
        text = out.read_text(errors="replace") if out.exists() else ""
        print(f"[profile {label}]")
        print(summarize(text, top) if text else f"  py-spy wrote nothing: {err.decode()[-300:]}")
        shutil.rmtree(out.parent, ignore_errors=True)
