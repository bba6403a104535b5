"""`lineaged export --openlineage [--since WHEN] [-o FILE|-]`: the graph as OpenLineage.

One RunEvent per file, one JSON object per line (JSON Lines), sorted by file id.
Exit codes: 0 written; 2 bad usage; 3 Neo4j unreachable or the query failed.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_USAGE, EXIT_CANNOT_CONNECT = 0, 2, 3

EXAMPLES = """examples:
  lineaged export --openlineage -o lineage.jsonl
  lineaged export --openlineage --since 2h                 # files ingested in the last 2 hours
  lineaged export --openlineage --since 2026-12-01T08:00:00Z --namespace warehouse
  lineaged export --openlineage | while read -r event; do
    curl -s -H 'Content-Type: application/json' -d "$event" http://localhost:5000/api/v1/lineage
  done                                                     # into Marquez (or DataHub's endpoint)

Neo4j connection: [neo4j] in the config, NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD.
exit codes: 0 written, 2 bad usage, 3 Neo4j unreachable"""

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> str:
    """`30m`, `2h`, `7d` (ago) or an ISO 8601 date/time → ISO 8601 in UTC."""
    m = _RELATIVE.match(text.strip())
    if m:
        ago = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        return ((now or datetime.now(UTC)) - ago).isoformat()
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an ISO 8601 time (2026-12-01T08:00:00Z) nor 30m/2h/7d"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat()


def add_parser(subparsers: Any) -> None:
    from lineaged.cli import _add_config_flags

    p = subparsers.add_parser(
        "export",
        help="export the graph's lineage (OpenLineage RunEvents, one per file)",
        description="Write one OpenLineage RunEvent per file in the graph (JSON Lines): "
        "job <root>:<path>, inputs and outputs with schema and columnLineage facets.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--openlineage", action="store_true", required=True, help="OpenLineage RunEvents"
    )
    p.add_argument(
        "--since",
        type=parse_since,
        metavar="WHEN",
        help="only files ingested since WHEN: ISO 8601 time or 30m/2h/7d ago",
    )
    p.add_argument("--root", metavar="NAME", help="only files of this root")
    p.add_argument("-o", "--output", default="-", metavar="FILE", help="file or - (stdout)")
    p.add_argument("--namespace", default=None, help="job namespace (default: lineaged)")
    p.add_argument(
        "--dataset-namespace", default=None, help="dataset namespace (default: the job's)"
    )
    _add_config_flags(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from neo4j import GraphDatabase
    from neo4j.exceptions import Neo4jError, ServiceUnavailable

    from lineaged.cli import _settings

    cfg = _settings(args).neo4j
    try:
        with (
            GraphDatabase.driver(
                cfg.uri, auth=(cfg.user, cfg.password), notifications_min_severity="OFF"
            ) as driver,
            _open(args.output) as out,
        ):
            driver.verify_connectivity()
            count = write_openlineage(driver, cfg.database, out, args)
    except (ServiceUnavailable, OSError) as exc:
        reason = " ".join(str(exc).split())
        print(f"lineaged export: cannot reach Neo4j at {cfg.uri}: {reason}", file=sys.stderr)
        return EXIT_CANNOT_CONNECT
    except Neo4jError as exc:
        print(f"lineaged export: query failed: {exc.message}", file=sys.stderr)
        return EXIT_CANNOT_CONNECT
    print(f"lineaged export: {count} events", file=sys.stderr)
    return EXIT_OK


def write_openlineage(driver: Any, database: str, out: TextIO, args: argparse.Namespace) -> int:
    import orjson

    from lineaged.export.graph_read import read_files
    from lineaged.export.openlineage import DEFAULT_NAMESPACE, run_event

    count = 0
    for record in read_files(driver, database, since=args.since, root=args.root):
        event = run_event(
            record,
            namespace=args.namespace or DEFAULT_NAMESPACE,
            dataset_namespace=args.dataset_namespace,
        )
        out.write(orjson.dumps(event).decode() + "\n")
        count += 1
    return count


class _open:
    """stdout for "-", else the file (written whole or not at all: temp + rename)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._tmp: Path | None = None
        self._fh: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.target == "-":
            return sys.stdout
        path = Path(self.target)
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._fh = open(self._tmp, "w", encoding="utf-8")
        return self._fh

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._fh is None or self._tmp is None:
            sys.stdout.flush()
            return
        self._fh.close()
        if exc_type is None:
            self._tmp.replace(self.target)
        else:
            self._tmp.unlink(missing_ok=True)
