"""Functions the pool tests run inside worker processes (must be importable by name)."""

from __future__ import annotations

import os
import time


def echo(value: object) -> object:
    return value


def sleep_then(value: object, seconds: float) -> object:
    time.sleep(seconds)
    return value


def hang(_value: object) -> object:
    while True:
        time.sleep(1)


def crash(_value: object) -> object:
    os._exit(17)


def boom(value: object) -> object:
    raise ValueError(f"bad input {value!r}")


def dispatch(kind: str, value: object, seconds: float = 0.0) -> object:
    fn = {"echo": echo, "hang": hang, "crash": crash, "boom": boom}.get(kind)
    if kind == "sleep":
        return sleep_then(value, seconds)
    if kind == "pid":
        time.sleep(seconds)
        return pid(value)
    assert fn is not None
    return fn(value)


def pid(_value: object) -> int:
    return os.getpid()


def slow_start() -> None:
    """An initializer as slow as a fresh worker on a loaded machine."""
    time.sleep(3.0)


def wait_for_file(path: str) -> None:
    """An initializer that finishes only once `path` exists (a worker start the test
    holds up for as long as it likes)."""
    while not os.path.exists(path):
        time.sleep(0.01)


def niceness(_value: object) -> int:
    return os.nice(0)
