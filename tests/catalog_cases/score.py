"""Precision and recall of cross-file resolution on the multi-file cases.

Run: .venv/bin/python tests/catalog_cases/score.py [-v] [--isolated]
(`--isolated`: each file extracted alone, as before the corpus catalog.)
Column level counts (file, statement, target column, source column, transform) edges;
table level counts (file, statement, role, table).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cases import compare, multi_cases


def facts(file: str, stmts: list[dict]) -> tuple[set, set]:
    tables, edges = set(), set()
    for i, s in enumerate(stmts):
        for role in ("targets", "sources", "temp_targets"):
            tables |= {(file, i, role, t) for t in s[role]}
        edges |= {(file, i, *e) for e in s["edges"]}
    return tables, edges


def main() -> None:
    verbose = "-v" in sys.argv
    isolated = "--isolated" in sys.argv
    counts = {"table": [0, 0, 0], "column": [0, 0, 0]}  # tp, fp, fn
    selection = multi_cases()
    for case in selection:
        for file, (want, got) in compare(case, isolated=isolated).items():
            for level, w, g in zip(
                ("table", "column"), facts(file, want), facts(file, got), strict=True
            ):
                c = counts[level]
                c[0] += len(w & g)
                c[1] += len(g - w)
                c[2] += len(w - g)
                if verbose and w != g:
                    print(
                        f"{case.name}/{file} {level}: missing {sorted(w - g)} extra {sorted(g - w)}"
                    )
    files = sum(len(list(c.path.glob("*.sql"))) for c in selection)
    how = "each file alone" if isolated else "resolved together"
    print(f"multi-file cases ({how}): {len(selection)} cases, {files} files")
    for level, (tp, fp, fn) in counts.items():
        print(
            f"{level:>6} level: precision {tp / max(1, tp + fp):.3f}  "
            f"recall {tp / max(1, tp + fn):.3f}"
        )


if __name__ == "__main__":
    main()
