"""Definitions before their readers: a cheap guess from the text, no parsing.

A cold start knows nothing about which file defines what, and every reader extracted
before its upstream must be extracted again once the upstream's columns are known.
Ordering the files so that a file naming a table after CREATE/INSERT/... TABLE, VIEW
or INTO comes before files naming it after FROM/JOIN avoids most of that. It is only
a guess (templates, path targets and odd quoting escape it); the fixpoint stays
correct without it, it only costs more re-extractions.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence

_PART_RE = rb"(?:[\w$@#]+|\"[^\"]+\"|`[^`]+`|\[[^\]]+\])"
_NAME = rb"(" + _PART_RE + rb"(?:\s*\.\s*" + _PART_RE + rb")*)"
_WRITES = re.compile(rb"(?i)\b(?:TABLE|VIEW|INTO)\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME)
_READS = re.compile(rb"(?i)\b(?:FROM|JOIN)\s+" + _NAME)
_PART = re.compile(_PART_RE)


def _normal(name: bytes) -> bytes:
    return b".".join(p.strip(b'"`[]').lower() for p in _PART.findall(name))


def written_and_read(text: bytes) -> tuple[set[bytes], set[bytes]]:
    """Lower-cased dotted names the text seems to write and to read."""
    writes = {_normal(m) for m in _WRITES.findall(text)}
    reads = {_normal(m) for m in _READS.findall(text)} - writes
    return writes, reads


def recorded_names(defines: Sequence[str], used: Sequence[str]) -> tuple[set[bytes], set[bytes]]:
    """`written_and_read`'s answer taken from a file's extraction result instead of its
    text: the tables it defines and the names it looked up, in the same spelling
    (lower-cased dotted bytes). For a file whose catalog record is current the result
    is known, so what it writes and reads is known without scanning its text (the
    scan of every file was 5.4% of the daemon's samples in a 20k-file rebuild)."""
    writes = {name.encode().lower() for name in defines}
    reads = {name.encode().lower() for name in used} - writes
    return writes, reads


def _same_table(a: bytes, b: bytes) -> bool:
    return a == b or a.endswith(b"." + b) or b.endswith(b"." + a)


def _last(name: bytes) -> bytes:
    return name.rsplit(b".", 1)[-1]


def _upstreams(names: Sequence[tuple[set[bytes], set[bytes]]]) -> list[set[int]]:
    """For each file, the other files that seem to write a table it reads."""
    writers: dict[bytes, list[tuple[bytes, int]]] = {}
    for i, (w, _) in enumerate(names):
        for name in w:
            writers.setdefault(_last(name), []).append((name, i))
    return [
        {
            j
            for name in r
            for written, j in writers.get(_last(name), ())
            if j != i and _same_table(name, written)
        }
        for i, (_, r) in enumerate(names)
    ]


def definition_order(texts: Sequence[bytes]) -> list[int]:
    """Indexes of `texts`, writers of a name before its readers; otherwise (and to
    break cycles) in the given order."""
    return _order(_upstreams([written_and_read(t) for t in texts]))


def _order(waits_for: list[set[int]]) -> list[int]:
    unblocks: list[list[int]] = [[] for _ in waits_for]
    for i, ups in enumerate(waits_for):
        for j in ups:
            unblocks[j].append(i)
    pending = [len(ups) for ups in waits_for]
    ready = [i for i, n in enumerate(pending) if n == 0]
    heapq.heapify(ready)
    done = [False] * len(waits_for)
    order: list[int] = []
    next_forced = 0
    while len(order) < len(waits_for):
        if not ready:
            # A cycle: release the earliest file still waiting.
            while done[next_forced]:
                next_forced += 1
            ready = [next_forced]
            pending[next_forced] = 0
        i = heapq.heappop(ready)
        if done[i]:
            continue
        done[i] = True
        order.append(i)
        for k in unblocks[i]:
            pending[k] -= 1
            if pending[k] == 0 and not done[k]:
                heapq.heappush(ready, k)
    return order


Names = tuple[set[bytes], set[bytes]]


def definition_waves(
    texts: Sequence[bytes], names: Sequence[Names] | None = None
) -> list[list[int]]:
    """`definition_order` cut into waves: a file comes in a later wave than every
    file (earlier in the order) it seems to read from, so each wave can be extracted
    in parallel once the waves before it are in the catalog. `names` are the texts'
    `written_and_read`, when the caller has them already."""
    waits_for = _upstreams(names if names is not None else [written_and_read(t) for t in texts])
    if not any(waits_for):
        # Nothing reads what another file writes: one wave, in the given order (what
        # the general case below gives, without its heap and levels).
        return [list(range(len(waits_for)))] if waits_for else []
    order = _order(waits_for)
    position = {i: n for n, i in enumerate(order)}
    level: dict[int, int] = {}
    for i in order:
        ups = [j for j in waits_for[i] if position[j] < position[i]]
        level[i] = 1 + max((level[j] for j in ups), default=-1)
    waves: list[list[int]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for i in order:
        waves[level[i]].append(i)
    return waves
