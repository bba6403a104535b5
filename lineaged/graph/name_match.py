"""Which table in the graph a user means by NAME (`lineaged lineage upstream NAME`).

Names in the graph are folded per dialect (`TELEMETRY.CLIENTS_DAILY` in Snowflake,
`telemetry.clients_daily` in Postgres) and fully qualified as the SQL wrote them
(`moz-fx-data-shared-prod.telemetry.clients_daily`). A person types what they
remember, so in order:

1. the exact name;
2. the one name equal to NAME ignoring case;
3. the one name ending in `.NAME` ignoring case (a unique suffix on a dot boundary);
4. otherwise nothing, with the names that came closest as suggestions (or, when
   several names fit, those names: NAME is ambiguous).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

SUGGESTIONS = 5


@dataclass(frozen=True, slots=True)
class Match:
    name: str | None  # the table meant, or None
    candidates: tuple[str, ...] = ()  # ambiguous: these all fit
    suggestions: tuple[str, ...] = ()  # no fit: these came closest

    def explain(self, asked: str, kind: str = "table") -> str:
        """One line for a NAME that matched nothing or too much."""
        if self.candidates:
            return f"{asked!r} matches several {kind}s: {', '.join(self.candidates)}"
        hint = f"; did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
        return f"no {kind} named {asked!r} in the graph" + (hint if self.suggestions else "")


def match_name(asked: str, names: Iterable[str]) -> Match:
    names = list(dict.fromkeys(names))
    if asked in names:
        return Match(asked)
    lowered = asked.lower()
    same = sorted(n for n in names if n.lower() == lowered)
    if len(same) == 1:
        return Match(same[0])
    if same:
        return Match(None, candidates=tuple(same))
    suffix = sorted(n for n in names if n.lower().endswith("." + lowered))
    if len(suffix) == 1:
        return Match(suffix[0])
    if suffix:
        return Match(None, candidates=tuple(suffix))
    return Match(None, suggestions=tuple(_closest(asked, names)))


def _closest(asked: str, names: list[str]) -> list[str]:
    """Closest whole names, then names whose last parts are close to what was asked
    (`clients_dialy` finds `telemetry.clients_daily`)."""
    by_lower = {n.lower(): n for n in names}
    lowered = asked.lower()
    found = difflib.get_close_matches(lowered, list(by_lower), n=SUGGESTIONS, cutoff=0.6)
    depth = lowered.count(".") + 1
    tails: dict[str, str] = {}
    for low, name in by_lower.items():
        tails.setdefault(".".join(low.split(".")[-depth:]), name)
    for tail in difflib.get_close_matches(lowered, list(tails), n=SUGGESTIONS, cutoff=0.6):
        if by_lower.get(tails[tail].lower()) and tails[tail].lower() not in found:
            found.append(tails[tail].lower())
    return [by_lower[f] for f in found[:SUGGESTIONS]]
