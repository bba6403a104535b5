"""Which files under a root are ours: include/exclude globs over root-relative paths."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from lineaged.config import RootSettings
from lineaged.model import FileRef


@lru_cache(maxsize=256)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Translate a git-style glob: `**/` spans any number of directories (including none),
    `*` and `?` never cross a `/`."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class RootMatcher:
    """Maps absolute paths to FileRefs for one root, applying its globs."""

    def __init__(self, root: RootSettings) -> None:
        self.root = root
        self.base = str(root.path)
        self._include = [glob_to_regex(p) for p in root.include]
        self._exclude = [glob_to_regex(p) for p in root.exclude]

    def relative(self, abs_path: str) -> str | None:
        if not abs_path.startswith(self.base + os.sep):
            return None
        return abs_path[len(self.base) + 1 :].replace(os.sep, "/")

    def matches(self, rel: str) -> bool:
        if not any(rx.match(rel) for rx in self._include):
            return False
        return not any(rx.match(rel) for rx in self._exclude)

    def ref_for(self, abs_path: str) -> FileRef | None:
        rel = self.relative(abs_path)
        if rel is None or not self.matches(rel):
            return None
        return FileRef(self.root.name, rel)

    def abs_path(self, ref: FileRef) -> str:
        return os.path.join(self.base, *ref.path.split("/"))

    def walk(self) -> Iterator[tuple[str, os.stat_result]]:
        """Yield (relative path, stat) of every matching regular file. Symlinks are not
        followed: a link could lead outside the root or into a cycle."""
        stack = [self.base]
        while stack:
            directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue  # vanished or unreadable directory: nothing of ours to report
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        rel = self.relative(entry.path)
                        if rel is not None and self.matches(rel):
                            yield rel, entry.stat(follow_symlinks=False)
                except OSError:
                    continue


def matcher_for(path: str | Path, matchers: list[RootMatcher]) -> RootMatcher | None:
    s = str(path)
    for m in matchers:
        if s.startswith(m.base + os.sep):
            return m
    return None
