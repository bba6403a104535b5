"""Precision and recall of the extractor over the golden corpus.

Run: .venv/bin/python tests/golden/score.py [-v]
Table level counts (statement, table, role) triples where role is target, source or
temp_target; column level counts (statement, target column, source column, transform)
edges. A statement is matched by position within its file.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import actual_edges, cases, expected_edges

from lineaged.extract import extract


def table_facts(index: int, stmt: dict) -> set[tuple]:
    return {
        (index, role, name)
        for role in ("targets", "sources", "temp_targets")
        for name in stmt.get(role, [])
    }


def score(verbose: bool = False) -> dict[str, float]:
    tp = {"table": 0, "column": 0}
    fp = {"table": 0, "column": 0}
    fn = {"table": 0, "column": 0}
    for case in cases():
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
    out["cases"] = len(cases())
    return out


def main() -> None:
    result = score(verbose="-v" in sys.argv)
    dialects = sorted({c.dialect for c in cases()})
    print(
        f"golden corpus: {result['cases']} cases, {len(dialects)} dialects ({', '.join(dialects)})"
    )
    for level in ("table", "column"):
        p, r = result[f"{level}_precision"], result[f"{level}_recall"]
        print(f"{level:>6} level: precision {p:.3f}  recall {r:.3f}")


if __name__ == "__main__":
    main()
