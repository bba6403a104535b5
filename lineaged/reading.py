"""Reading a watched file's bytes: regular files only, never blocking, never unbounded.

Every path that reads a file's content (live events, reconcile and rescans, `replay`)
goes through `read_file`, so one rule holds everywhere:
- only a regular file (or a followed link to one) is a file. A FIFO, socket or device
  named `*.sql` is not ours: the walk does not report it and a live event for it reads
  nothing. `open()` on a FIFO waits for a writer forever, and a device like /dev/zero
  never ends, so the kind is checked with `stat` before opening (opening some devices
  has side effects) and again with `fstat` on a non-blocking descriptor (the path may
  have been swapped in between);
- a file larger than `MAX_FILE_BYTES` is not read at all (its size says so), and a read
  stops at the limit even when the size lied (procfs, a file still growing). The limit
  is the extractor's own (`MAX_FILE_CHARS`, in bytes of UTF-8 at most 4 per character),
  so nothing the extractor would accept is refused here.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from lineaged.extract.bounds import MAX_FILE_CHARS

MAX_FILE_BYTES = 4 * MAX_FILE_CHARS
_CHUNK = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class NotRegularFile(Exception):
    """The path exists but is not a regular file; `kind` says what it is instead."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(f"not a regular file ({kind}): {path}")
        self.kind = kind


@dataclass(frozen=True, slots=True)
class FileContent:
    """What `read_file` found: `data` and the `stat` taken from the open descriptor
    before reading, or `error` (one line) when the file could not be read whole."""

    data: bytes
    stat: os.stat_result | None
    error: str | None = None


def read_file(path: str, max_bytes: int = MAX_FILE_BYTES) -> FileContent:
    """Read `path` whole. Raises FileNotFoundError (and the other "gone" errors) for a
    missing path, NotRegularFile for anything but a regular file; other OSErrors come
    back as an `error`."""
    try:
        _require_regular(os.stat(path).st_mode, path)
        fd = os.open(path, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError, NotRegularFile):
        raise
    except OSError as exc:
        return FileContent(b"", None, f"cannot read file: {exc.strerror}")
    try:
        st = os.fstat(fd)
        _require_regular(st.st_mode, path)
        if st.st_size > max_bytes:
            return FileContent(b"", st, _too_large(f"{st.st_size} bytes", max_bytes))
        data = _read_at_most(fd, max_bytes + 1, first=st.st_size + 1)
    except OSError as exc:
        return FileContent(b"", None, f"cannot read file: {exc.strerror}")
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        return FileContent(b"", st, _too_large(f"more than {max_bytes} bytes", max_bytes))
    return FileContent(data, st)


def _require_regular(mode: int, path: str) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, _kind(mode))


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "directory"),
    ):
        if test(mode):
            return name
    return "special file"


def _read_at_most(fd: int, limit: int, first: int) -> bytes:
    """Up to `limit` bytes; the first read asks for `first` (the size fstat gave plus
    one, so a file that is what it says takes one read and one EOF check)."""
    chunks = []
    left = limit
    want = max(1, first)
    while left > 0:
        chunk = os.read(fd, min(want, left))
        want = _CHUNK
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _too_large(size: str, limit: int) -> str:
    return f"file too large: {size} (limit {limit}); not read"
