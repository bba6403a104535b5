"""What this process last sent to the graph for the files edited live.

A live edit's batch used to read the graph's File state (GraphWriter.file_states, a
round trip: ~6 ms idle, up to ~0.5 s under a backfill) to skip files whose content the
graph already holds. After this process wrote content X of a file, the graph holds X
for it (as its `sha256`, or as `failed_sha256` when the write was refused), so new
content Y != X cannot be current there: the read can only answer "changed".

Only ever used to PROVE a change, never to conclude "unchanged": if the record is
wrong (a write failed twice, another process wrote the file) the file is written once
more with the content on disk, which is what the graph should hold anyway. Unknown
files and equal hashes still go through the graph read, so an unchanged file writes
nothing. Bounded: people edit a few files at a time; backfill files are not kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from lineaged.model import FileRef, FileUpdate


class LastWritten:
    def __init__(self, max_files: int = 4096) -> None:
        self._sha: OrderedDict[FileRef, str] = OrderedDict()
        self._max = max_files

    def proves_change(self, ref: FileRef, sha256: str | None) -> bool:
        """True when the graph cannot hold content `sha256` for `ref`."""
        last = self._sha.get(ref)
        return last is not None and sha256 is not None and last != sha256

    def written(self, updates: Iterable[FileUpdate], *, live: bool) -> None:
        """`updates` reached the graph (written or dead-lettered). Live batches' files
        are remembered; a backfill batch updates only files already remembered."""
        for u in updates:
            if u.lineage is None or u.sha256 is None:
                self._sha.pop(u.ref, None)  # deleted, or written without a hash
            elif live or u.ref in self._sha:
                self._sha[u.ref] = u.sha256
                self._sha.move_to_end(u.ref)
        while len(self._sha) > self._max:
            self._sha.popitem(last=False)

    def forget(self, refs: Iterable[FileRef]) -> None:
        """A write that did not finish: what the graph holds is not known."""
        for ref in refs:
            self._sha.pop(ref, None)
