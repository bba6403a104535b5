"""Extract a set of files until every result agrees with the catalog they define.

Each result records the external tables it looked up and a fingerprint of what it
found; the catalog is built from the results. A file is extracted again when the
catalog now answers its lookups differently (an upstream definition appeared,
changed or went away, or the slice it was given missed a name). Every
re-extraction a change causes is one hop further from that change; past
`max_hops` the propagation stops and the file is reported unsettled, so a cycle
whose results never agree cannot loop forever.

`settle()` is the sequential form `lineaged extract DIR` uses; the daemon runs the
same rule batch by batch (lineaged/catalog/stage.py).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from lineaged.catalog.catalog import Catalog, Conflict, FileRecord
from lineaged.catalog.order import definition_order
from lineaged.model import FileLineage

# Longer than any real chain of views; a cycle that never agrees is cut here.
MAX_HOPS = 32

Extract = Callable[["CorpusFile", Mapping[str, Mapping[str, str]]], FileLineage]


@dataclass(frozen=True, slots=True)
class CorpusFile:
    id: str
    root: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Settled:
    results: dict[str, FileLineage] = field(default_factory=dict)
    extractions: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)


def settle(
    files: Sequence[CorpusFile],
    extract: Extract,
    catalog: Catalog | None = None,
    *,
    max_hops: int = MAX_HOPS,
    ordered: bool = True,
) -> Settled:
    catalog = catalog if catalog is not None else Catalog()
    by_id = {f.id: f for f in files}
    order = definition_order([f.data for f in files]) if ordered else range(len(files))
    queue: deque[tuple[str, int]] = deque((files[i].id, 0) for i in order)
    queued = {f.id for f in files}
    out = Settled()
    while queue:
        file_id, hops = queue.popleft()
        queued.discard(file_id)
        f = by_id[file_id]
        previous = out.results.get(file_id)
        also = previous.schema_used if previous is not None else ()
        lineage = extract(f, catalog.slice_for(f.data, also, reader=file_id))
        out.extractions += 1
        out.results[file_id] = lineage
        changed = catalog.update(file_id, FileRecord.of(f.root, f.sha256, lineage))
        stale = catalog.dependants(changed)
        if not catalog.is_current(file_id):
            stale.add(file_id)
        if hops >= max_hops:
            continue
        for other in sorted(stale - queued):
            queue.append((other, hops + 1))
            queued.add(other)
    out.conflicts = catalog.conflicts()
    out.unsettled = sorted(f for f in out.results if not catalog.is_current(f))
    return out
