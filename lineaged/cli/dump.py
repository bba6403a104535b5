"""`lineaged dump [--check]`: the canonical dump of the graph, or its integrity check.

`dump` prints every node and relationship with its properties, one sorted JSON line
each (lineaged/graph/dump.py): equal dumps mean equal lineage graphs. `--check` runs
the integrity queries instead (statements without a file, orphan tables and columns,
column edges naming dead files, ...) and prints one line per problem.

Exit codes: 0 done (`--check`: no problem); 1 `--check` found problems; 2 bad usage;
3 Neo4j unreachable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lineaged.cli.common import add_config_flags, ask_graph, settings_from_args
from lineaged.cli.exit_codes import ExitCode

EXAMPLES = """examples:
  lineaged dump -c config.toml > graph.jsonl
  diff <(lineaged dump -c a.toml) <(lineaged dump -c b.toml)
  lineaged dump --check

exit codes: 0 done (--check: sound), 1 --check found problems, 2 bad usage,
3 Neo4j unreachable"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "dump",
        help="canonical sorted dump of the whole graph, or --check its integrity",
        description="Print every node and relationship of the graph with its properties, "
        "one sorted JSON line each; with --check, run the integrity queries instead.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--check", action="store_true", help="run the integrity queries")
    add_config_flags(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from lineaged.graph.dump import dump_lines, integrity_problems

    cfg = settings_from_args(args).neo4j

    async def ask(driver: Any) -> list[str] | dict[str, list[str]]:
        if args.check:
            return await integrity_problems(driver, cfg.database)
        return await dump_lines(driver, cfg.database)

    answer = ask_graph("dump", cfg, ask)
    if answer is None:
        return ExitCode.CANNOT_START
    if isinstance(answer, list):
        sys.stdout.writelines(line + "\n" for line in answer)
        return ExitCode.OK
    for name, items in answer.items():
        for item in items:
            print(f"{name}: {item}")
    if answer:
        print(f"lineaged dump: {sum(map(len, answer.values()))} problems", file=sys.stderr)
        return ExitCode.PROBLEMS
    return ExitCode.OK
