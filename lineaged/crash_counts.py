"""How many daemon starts a file's content has killed workers in, kept across restarts.

A worker crash is not a verdict on the content (memory pressure, a kill, a bug in one
sqlglot build), so the graph records no hash for it and the next start retries it
(pipeline.py). A file that really kills workers would then cost two worker deaths on
every start, forever. The count bounds that: after `GIVE_UP_AFTER_STARTS` starts whose
retries all crashed on the same content with the same extractor version, starts leave
it alone (read and hashed, never extracted) until the file is edited, the extractor
changes, or `lineaged replay` re-drives it.

The count lives in the state directory (`worker_crashes.json`, 0600), not in the graph:
it is the daemon's bookkeeping about its own workers. Losing it costs at most
`GIVE_UP_AFTER_STARTS` more starts of retries, never a wrong graph.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import structlog

from lineaged import private

log = structlog.get_logger(__name__)

FILE_NAME = "worker_crashes.json"
GIVE_UP_AFTER_STARTS = 3
# Entries of files that were deleted or never edited back stay until pushed out: the
# oldest go first past this many (a few hundred bytes each).
MAX_ENTRIES = 10_000


def crash_counts_path(state_dir: Path) -> Path:
    return state_dir / FILE_NAME


class CrashCounts:
    """file id -> (content sha256, extractor version, starts that crashed on it)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._files: dict[str, tuple[str, str, int]] = self._load() if path else {}

    def given_up(self, file_id: str, sha256: str, version: str) -> bool:
        entry = self._files.get(file_id)
        return (
            entry is not None
            and entry[:2] == (sha256, version)
            and (entry[2] >= GIVE_UP_AFTER_STARTS)
        )

    def record(self, file_id: str, sha256: str, version: str) -> int:
        """One more start crashed on this content; returns how many have."""
        entry = self._files.pop(file_id, None)
        count = entry[2] + 1 if entry is not None and entry[:2] == (sha256, version) else 1
        self._files[file_id] = (sha256, version, count)  # re-inserted: newest last
        while len(self._files) > MAX_ENTRIES:
            del self._files[next(iter(self._files))]
        self._save()
        return count

    def forget(self, file_id: str) -> None:
        """The file was extracted (or edited, or deleted): its count starts again."""
        if self._files.pop(file_id, None) is not None:
            self._save()

    def _load(self) -> dict[str, tuple[str, str, int]]:
        assert self._path is not None
        try:
            raw = orjson.loads(self._path.read_bytes())
            return {k: (str(v[0]), str(v[1]), int(v[2])) for k, v in raw["files"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            log.warning("crash_counts_unreadable", path=str(self._path), error=str(exc))
            return {}

    def _save(self) -> None:
        """Atomically (a crash of the daemon itself leaves the old file or the new)."""
        if self._path is None:
            return
        data = orjson.dumps({"files": {k: list(v) for k, v in self._files.items()}})
        tmp = self._path.with_name(self._path.name + ".tmp")
        try:
            private.make_dir(self._path.parent)
            with os.fdopen(private.open_file(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("crash_counts_not_saved", path=str(self._path), error=str(exc))
