"""State files are the daemon's own: the state directory is created 0700 and every file
in it 0600, whatever the umask (outside systemd, where StateDirectoryMode does not
apply, a umask of 022 would make the parse cache and dead letters world-readable)."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_dir(path: Path) -> None:
    """Create `path` (and missing parents) with the leaf private; an existing directory
    is left as the operator made it."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def open_file(path: Path, flags: int) -> int:
    """os.open with O_CREAT, the file private however it was created (a file left
    0644 by an older version is tightened too)."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd
