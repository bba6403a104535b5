"""Extraction over a directory of real SQL: how much of it comes out without errors.

Run: .venv/bin/python tests/bench/bench_real_corpus.py DIR DIALECT [--top N] [--examples K]
     [--json-out FILE]

DIR is a tree of SQL brought for measurement (e.g. a public repository exported to
/tmp; never commit third-party SQL). Every `*.sql` file (any case) is extracted in this
process, one at a time, the way the pool's workers do it. Prints:

- files, files without errors, and the same excluding files that look like templates
  (`{{`, `{%`, SSMS `<name, type, default>` placeholders), which are another issue's job;
- statements, statements with errors, and statements of kind `other` whose text starts
  like DDL/DML (lost silently if nothing else reports them);
- statements with errors grouped by message (positions and quoted names removed so one
  kind of failure is one group), the biggest groups first, each with example paths;
- files/s over this process's CPU time (the machine is shared: wall clock mostly
  measures the neighbours), and the wall-clock seconds.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from lineaged.extract import extract, warm_up
from lineaged.extract.templates import looks_like_template

# Statement heads that are DDL/DML: a statement starting so and coming out `other`
# without an error is the "lost silently" case.
_DDL_DML_HEAD = re.compile(
    r"^\s*(?:INSERT|UPDATE(?!\s+STATISTICS)|DELETE|MERGE|CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\w*\s+)?"
    r"(?:TABLE|VIEW)|SELECT)\b",
    re.IGNORECASE,
)


def sql_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() == ".sql" and p.is_file())


def error_group(message: str) -> str:
    """One group per kind of failure: drop the position and anything quoted."""
    message = re.sub(r"^line \d+, column \d+: ", "", message)
    message = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "…", message)
    return re.sub(r"\d+", "N", message)[:160]


def statement_text(text: str, line: int) -> str:
    lines = text.splitlines()
    return "\n".join(lines[line - 1 : line + 2]) if 0 < line <= len(lines) else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("dialect")
    ap.add_argument("--top", type=int, default=25, help="error groups to print")
    ap.add_argument("--examples", type=int, default=2, help="example paths per group")
    args = ap.parse_args()

    files = sql_files(args.root)
    if not files:
        print(f"no .sql files under {args.root}", file=sys.stderr)
        return 2
    warm_up()
    clean = templates = clean_plain = statements = failed = silent = 0
    groups: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    silent_examples: list[str] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for path in files:
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        template = looks_like_template(text)
        templates += template
        lineage = extract(data, args.dialect)
        rel = str(path.relative_to(args.root))
        messages = [s.error for s in lineage.statements if s.error]
        if lineage.error:
            messages.append(lineage.error)
        statements += len(lineage.statements)
        failed += len(messages)
        for m in messages:
            g = error_group(m)
            groups[g] += 1
            if len(examples[g]) < args.examples:
                examples[g].append(f"{rel}: {m[:120]}")
        for s in lineage.statements:
            if s.kind == "other" and not s.error:
                head = statement_text(text, s.line)
                if _DDL_DML_HEAD.match(head):
                    silent += 1
                    if len(silent_examples) < args.examples * 3:
                        silent_examples.append(f"{rel}:{s.line}: {head.splitlines()[0][:100]}")
        if not messages:
            clean += 1
            clean_plain += not template
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    plain = len(files) - templates
    print(f"corpus: {args.root} ({args.dialect})")
    print(f"files: {len(files)}  without errors: {clean} ({100 * clean / len(files):.1f} %)")
    share = 100 * clean_plain / plain if plain else 100.0
    print(f"non-template files: {plain}  without errors: {clean_plain} ({share:.1f} %)")
    print(f"statements: {statements}  with errors: {failed}")
    print(f"statements `other` that start like DDL/DML, no error: {silent}")
    for ex in silent_examples:
        print(f"    {ex}")
    rate = len(files) / cpu
    print(f"files/s: {rate:.1f} per CPU second  ({cpu:.1f} s CPU, {elapsed:.1f} s wall)")
    print(f"error groups ({len(groups)}), biggest first:")
    for g, n in groups.most_common(args.top):
        print(f"  {n:6d}  {g}")
        for ex in examples[g]:
            print(f"            {ex}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
