"""`lineaged replay`: re-drive the dead letters once their cause is fixed (the work
itself is lineaged/replay.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from lineaged.cli.common import add_config_flags, settings_from_args
from lineaged.cli.exit_codes import ExitCode
from lineaged.deadletters import FILE_NAME, dead_letters_path

DESCRIPTION = """Each dead-lettered file is read again from disk, extracted, and written
through the same graph writer as the daemon uses. A file now written, or gone from
disk (its contribution removed), leaves the dead-letter file; one that fails again
stays, with the new error. Safe next to a running daemon."""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay",
        help="re-drive dead-lettered files and drop those that now succeed",
        description=DESCRIPTION,
        epilog="Examples:\n  lineaged replay -c /etc/lineaged/config.toml\n"
        "  lineaged replay --json | jq .failed\n\n"
        "Exit codes: 0 all replayed, 1 some still fail, 2 bad config, 3 Neo4j unreachable.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_flags(p)
    p.add_argument(
        "--dead-letters",
        metavar="FILE",
        help=f"dead-letter file (default: <state.dir>/{FILE_NAME})",
    )
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import anyio

    from lineaged.graph.connect import CannotConnect
    from lineaged.logging import configure_logging
    from lineaged.replay import replay_file

    settings = settings_from_args(args)
    configure_logging(settings.log.level, settings.log.format)
    path = Path(args.dead_letters) if args.dead_letters else dead_letters_path(settings.state.dir)
    try:
        report = anyio.run(replay_file, settings, path)
    except CannotConnect as exc:
        print(f"lineaged: {exc}", file=sys.stderr)
        return ExitCode.CANNOT_START
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.write("\n")
    else:
        for fid in report.written:
            print(f"written        {fid}")
        for fid in report.removed:
            print(f"removed        {fid} (file no longer exists)")
        for d in report.failed:
            print(f"still failing  {d.file_id}: {d.message}")
        print(
            f"replay: {len(report.written)} written, {len(report.removed)} removed, "
            f"{len(report.failed)} still failing"
        )
    return ExitCode.PROBLEMS if report.failed else ExitCode.OK
