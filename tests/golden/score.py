"""Precision and recall of the extractor over the golden corpus and the audit set.

Run: .venv/bin/python tests/golden/score.py [-v]
Table level counts (statement, table, role) triples where role is target, source or
temp_target; column level counts (statement, target column, source column, transform)
edges. A statement is matched by position within its file. The original corpus
(<dialect>/<case>) and the held-out audit set (audit/<dialect>/<case>, expectations
written by hand before the extractor was run) are scored separately: the original
corpus was largely drafted from the extractor's own output, so it measures
self-consistency more than correctness. The blind set (blind/<dialect>/<case>) was
written the same way as the audit set but has never been used to fix the extractor
(the audit set has), so it is the honest held-out figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import Case, actual_edges, audit_cases, blind_cases, cases, expected_edges

from lineaged.extract import extract


def table_facts(index: int, stmt: dict) -> set[tuple]:
    return {
        (index, role, name)
        for role in ("targets", "sources", "temp_targets")
        for name in stmt.get(role, [])
    }


def score(selection: list[Case] | None = None, verbose: bool = False) -> dict[str, float]:
    selection = cases() if selection is None else selection
    tp = {"table": 0, "column": 0}
    fp = {"table": 0, "column": 0}
    fn = {"table": 0, "column": 0}
    for case in selection:
        doc = case.load()
        result = extract(case.sql.read_text(), case.dialect, **doc.get("options", {}))
        got = [s.to_dict() for s in result.statements]
        want = doc["statements"]
        for i in range(max(len(got), len(want))):
            g = got[i] if i < len(got) else {}
            w = want[i] if i < len(want) else {}
            g_edges = (
                {(i, *e) for e in actual_edges(result.statements[i])} if i < len(got) else set()
            )
            w_edges = {(i, *e) for e in expected_edges(w)}
            for level, gs, ws in (
                ("table", table_facts(i, g), table_facts(i, w)),
                ("column", g_edges, w_edges),
            ):
                tp[level] += len(gs & ws)
                fp[level] += len(gs - ws)
                fn[level] += len(ws - gs)
                if verbose and gs != ws:
                    print(
                        f"{case.id}[{i}] {level}: missing {sorted(ws - gs)} extra {sorted(gs - ws)}"
                    )
    out = {}
    for level in ("table", "column"):
        out[f"{level}_precision"] = tp[level] / max(1, tp[level] + fp[level])
        out[f"{level}_recall"] = tp[level] / max(1, tp[level] + fn[level])
    out["cases"] = len(selection)
    return out


def report(label: str, selection: list[Case], verbose: bool) -> None:
    result = score(selection, verbose=verbose)
    dialects = sorted({c.dialect for c in selection})
    print(f"{label}: {result['cases']} cases, {len(dialects)} dialects ({', '.join(dialects)})")
    for level in ("table", "column"):
        p, r = result[f"{level}_precision"], result[f"{level}_recall"]
        print(f"{level:>6} level: precision {p:.3f}  recall {r:.3f}")


def main() -> None:
    verbose = "-v" in sys.argv
    report("golden corpus", cases(), verbose)
    report("audit set (held out, hand-written)", audit_cases(), verbose)
    report("blind set (held out)", blind_cases(), verbose)


if __name__ == "__main__":
    main()
