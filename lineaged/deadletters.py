"""Dead-letter file: one JSON line per file the graph refused, with the reason.

Append-only while the daemon runs; `lineaged replay` rewrites it without the entries
that went through. Lines are small and written with one write() each, so a crash can
at worst leave one torn last line, which `read()` skips. Appends and rewrites hold an
advisory lock on a sibling `.lock` file, so a replay running next to the daemon never
loses an entry the daemon appends meanwhile.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from lineaged import private

FILE_NAME = "dead_letters.jsonl"


def dead_letters_path(state_dir: Path) -> Path:
    """Where the daemon appends dead letters and `lineaged replay` reads them."""
    return state_dir / FILE_NAME


@dataclass(frozen=True, slots=True)
class DeadLetter:
    root: str
    path: str
    sha256: str | None
    error_class: str
    message: str
    time: float

    @property
    def file_id(self) -> str:
        return f"{self.root}:{self.path}"


class DeadLetters:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        data = b"".join(orjson.dumps(_as_dict(d)) + b"\n" for d in letters)
        with self._locked():
            fd = private.open_file(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[DeadLetter]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for line in raw.splitlines():
            try:
                d = orjson.loads(line)
                out.append(DeadLetter(**d))
            except (orjson.JSONDecodeError, TypeError):
                continue  # a torn last line from a crash mid-append
        return out

    def rewrite(self, keep: list[DeadLetter]) -> None:
        """Atomically replace the file with `keep` (latest entry per file only)."""
        with self._locked():
            self._write_all(keep)

    def settle(self, handled: Iterable[DeadLetter], failed_again: list[DeadLetter]) -> None:
        """Drop the `handled` entries and add `failed_again`, keeping whatever else was
        appended since they were read (latest entry per file wins)."""
        done = set(handled)
        with self._locked():
            rest = [d for d in self.read() if d not in done]
            self._write_all(rest + failed_again)

    def _write_all(self, letters: list[DeadLetter]) -> None:
        latest: dict[str, DeadLetter] = {}
        for d in letters:
            latest.pop(d.file_id, None)  # re-insert: the file order follows the latest
            latest[d.file_id] = d
        tmp = self.path.with_suffix(".tmp")
        fd = private.open_file(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, b"".join(orjson.dumps(_as_dict(d)) + b"\n" for d in latest.values()))
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        private.make_dir(self.path.parent)
        fd = private.open_file(self.path.with_suffix(".lock"), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _as_dict(d: DeadLetter) -> dict[str, object]:
    return {
        "root": d.root,
        "path": d.path,
        "sha256": d.sha256,
        "error_class": d.error_class,
        "message": d.message,
        "time": d.time,
    }
