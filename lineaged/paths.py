"""Which files under a root are ours: include/exclude globs over root-relative paths,
the symlink policy, and which files are CRITICAL.

Symlinks: a link whose target lies inside the root is followed (a file reached through
it counts under the link's path); a link leading outside the root is ignored unless the
root sets `follow_symlinks`. Linked directories are descended only with
`follow_symlinks` and only when they lead outside the root (inside it their files are
found under their real path, whatever order the walk meets them in), and never twice:
directories are told apart by (device, inode), so a link loop is walked once and
logged once. The watcher follows the same rules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import lru_cache

import structlog

from lineaged.config import RootSettings
from lineaged.model import FileRef, Priority

log = structlog.get_logger(__name__)


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
        # One alternation per list: a walk matches every file of the root against them.
        self._include = _any_of(root.include)
        self._exclude = _any_of(root.exclude)
        self._critical = [glob_to_regex(p) for p in root.critical]
        self.follow_symlinks = root.follow_symlinks
        self._real_base = os.path.realpath(self.base)
        self._loops_logged: set[tuple[int, int]] = set()
        self._unreadable_logged: set[str] = set()

    def relative(self, abs_path: str) -> str | None:
        if not abs_path.startswith(self.base + os.sep):
            return None
        return abs_path[len(self.base) + 1 :].replace(os.sep, "/")

    def matches(self, rel: str) -> bool:
        if self._include is None or not self._include.match(rel):
            return False
        return self._exclude is None or not self._exclude.match(rel)

    def ref_for(self, abs_path: str) -> FileRef | None:
        rel = self.relative(abs_path)
        if rel is None or not self.matches(rel):
            return None
        return FileRef(self.root.name, rel)

    def abs_path(self, ref: FileRef) -> str:
        return os.path.join(self.base, *ref.path.split("/"))

    def priority_for(self, rel: str, default: Priority) -> Priority:
        if any(rx.match(rel) for rx in self._critical):
            return Priority.CRITICAL
        return default

    def link_allowed(self, abs_path: str) -> bool:
        """False for a symlink (at any level below the root) that leads outside the
        root while `follow_symlinks` is off; True for everything else."""
        return self.follow_symlinks or self.leads_inside(abs_path)

    def leads_inside(self, abs_path: str) -> bool:
        real = os.path.realpath(abs_path)
        return real == self._real_base or real.startswith(self._real_base + os.sep)

    def walk(self) -> Iterator[tuple[str, os.stat_result]]:
        """Yield (relative path, stat) of every matching file, applying the symlink
        policy. The stat is the target's for a followed link, so that an edit of the
        target changes it."""
        # The hot loop of every warm restart and rescan (one pass per file of the root):
        # plain files and directories are told apart by the listing's d_type (no system
        # call), the relative path is the directory's prefix plus the name, and the one
        # stat per file is the DirEntry's. Symlinks take the careful path (`_visit`).
        stack = [self.base]
        seen_dirs = {_dir_key(self.base)}
        matches = self.matches
        prefix_len = len(self.base) + 1
        while stack:
            directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except FileNotFoundError:
                continue  # vanished: nothing of ours to report
            except OSError as exc:
                self._unreadable(directory, exc)
                continue
            self._unreadable_logged.discard(directory)
            prefix = (
                directory[prefix_len:].replace(os.sep, "/") + "/" if directory != self.base else ""
            )
            for entry in entries:
                try:
                    if entry.is_symlink():
                        found = self._visit(entry, stack, seen_dirs)
                        if found is not None:
                            yield found
                    elif entry.is_file(follow_symlinks=False):
                        rel = prefix + entry.name
                        if matches(rel):
                            yield rel, entry.stat(follow_symlinks=False)
                    elif entry.is_dir(follow_symlinks=False):
                        self._descend(entry.path, stack, seen_dirs)
                except OSError:
                    continue  # vanished between listing and stat, or a dangling link

    def _unreadable(self, directory: str, exc: OSError) -> None:
        """Once per directory until it becomes readable again: its files are missing
        from the graph until then, and the next rescan after a fix picks them up."""
        if directory in self._unreadable_logged:
            return
        self._unreadable_logged.add(directory)
        log.warning(
            "directory_unreadable",
            root=self.root.name,
            path=directory,
            error=f"cannot list directory: {exc.strerror}; its files are skipped until "
            "a rescan finds it readable",
        )

    def _visit(
        self, entry: os.DirEntry[str], stack: list[str], seen_dirs: set[tuple[int, int]]
    ) -> tuple[str, os.stat_result] | None:
        link = entry.is_symlink()
        if link and not self.link_allowed(entry.path):
            return None
        if entry.is_dir(follow_symlinks=True):
            if link and (not self.follow_symlinks or self.leads_inside(entry.path)):
                return None
            self._descend(entry.path, stack, seen_dirs)
            return None
        if not entry.is_file(follow_symlinks=True):
            return None
        rel = self.relative(entry.path)
        if rel is None or not self.matches(rel):
            return None
        return rel, entry.stat(follow_symlinks=True)

    def _descend(self, path: str, stack: list[str], seen_dirs: set[tuple[int, int]]) -> None:
        key = _dir_key(path)
        if key not in seen_dirs:
            seen_dirs.add(key)
            stack.append(path)
        elif key not in self._loops_logged:  # a link back up the tree: walked once
            self._loops_logged.add(key)
            log.warning(
                "directory_loop_skipped",
                path=path,
                error="directory already walked under another path (a link loop?)",
            )


def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{glob_to_regex(p).pattern})" for p in patterns))


def _dir_key(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
