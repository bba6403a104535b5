"""Per-root rule naming the table a file writes from its relative path.

`target = "{1}.{2}.{3}"` takes path segments (1-based; `{-1}` is the last, the file
name; `{stem}` is the file name without its extension). With `target_pattern`, a
regular expression matched against the whole relative path, `{name}` are its named
groups (and `{1}`... its numbered groups) and a path that does not match has no target:

    target_pattern = '^(?P<project>[^/]+)/(?P<dataset>[^/]+)/(?P<table>[^/]+)/query\\.sql$'
    target = "{project}.{dataset}.{table}"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class TargetRuleError(ValueError):
    """The rule itself is malformed (a configuration error)."""


@dataclass(frozen=True, slots=True)
class PathTargetRule:
    template: str
    pattern: re.Pattern[str] | None = None

    @classmethod
    def build(cls, template: str, pattern: str = "") -> PathTargetRule:
        if not template:
            raise TargetRuleError("target: empty")
        compiled = None
        if pattern:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise TargetRuleError(f"target_pattern: invalid regex: {exc}") from None
        rule = cls(template, compiled)
        for name in _PLACEHOLDER.findall(template):
            if not rule._known(name):
                raise TargetRuleError(f"target: unknown placeholder {{{name}}}")
        if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
            raise TargetRuleError(f"target: unbalanced braces in {template!r}")
        return rule

    def _known(self, name: str) -> bool:
        if name == "stem" or _is_int(name):
            return self.pattern is None or not _is_int(name) or int(name) <= self.pattern.groups
        return self.pattern is not None and name in self.pattern.groupindex

    def target_for(self, rel_path: str) -> str | None:
        """The target of the file at `rel_path` (POSIX, relative to the root), or None
        when the path does not fit the rule (too few segments, pattern not matching)."""
        values: dict[str, str] = {"stem": PurePosixPath(rel_path).stem}
        if self.pattern is not None:
            match = self.pattern.search(rel_path)
            if match is None:
                return None
            values.update({k: v for k, v in match.groupdict().items() if v is not None})
            values.update({str(i): g for i, g in enumerate(match.groups(), 1) if g is not None})
        else:
            parts = rel_path.split("/")
            values.update({str(i): p for i, p in enumerate(parts, 1)})
            values.update({str(-i): p for i, p in enumerate(reversed(parts), 1)})
        out = []
        pos = 0
        for m in _PLACEHOLDER.finditer(self.template):
            value = values.get(m.group(1))
            if not value:
                return None
            out.append(self.template[pos : m.start()])
            out.append(value)
            pos = m.end()
        out.append(self.template[pos:])
        return "".join(out)


def _is_int(name: str) -> bool:
    return name.lstrip("-").isdigit()
