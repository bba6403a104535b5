"""Multi-file lineage cases: `<case>/*.sql` resolved together, `<case>/expected.json`.

    {"dialect": "postgres",
     "files": {"a.sql": [<statements in the golden corpus's compact shape>], ...}}

Each case is a small corpus whose lineage needs other files' definitions (stars
through view chains, unqualified columns over joins, INSERT without a column list,
conflicting definitions). Expectations were written by hand from the SQL's meaning
before the extractor was run on them. `score.py` prints precision/recall;
tests/test_catalog_cases.py checks each case exactly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT.parent / "golden"))

from corpus import compact, normalised  # noqa: E402

from lineaged.catalog.fixpoint import CorpusFile, settle  # noqa: E402
from lineaged.extract import extract  # noqa: E402
from lineaged.model import FileLineage  # noqa: E402

# Known failures: case -> the discrepancy (filled in from the first run, never by
# editing the expectations to match).
KNOWN_FAILURES: dict[str, str] = {}


@dataclass(frozen=True)
class MultiCase:
    name: str
    path: Path

    def load(self) -> dict:
        return json.loads((self.path / "expected.json").read_text())

    def run(self, *, isolated: bool = False) -> dict[str, FileLineage]:
        """Resolved together (or each file alone, the way lineaged worked before the
        corpus catalog, for comparison)."""
        dialect = self.load()["dialect"]

        def one(f: CorpusFile, catalog: Mapping[str, Mapping[str, str]]) -> FileLineage:
            return extract(f.data, dialect, catalog=catalog)

        files = [CorpusFile(p.name, "", p.read_bytes()) for p in sorted(self.path.glob("*.sql"))]
        if isolated:
            return {f.id: one(f, {}) for f in files}
        return settle(files, one).results


def multi_cases() -> list[MultiCase]:
    return [MultiCase(p.name, p) for p in sorted(ROOT.iterdir()) if (p / "expected.json").exists()]


def compare(case: MultiCase, *, isolated: bool = False) -> dict[str, tuple[list[dict], list[dict]]]:
    """file -> (expected, actual), both normalised, for every file of the case."""
    results = case.run(isolated=isolated)
    want = case.load()["files"]
    return {
        name: (normalised(want.get(name, [])), normalised(compact(results[name])))
        for name in sorted(results)
    }
