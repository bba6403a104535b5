"""`lineaged export --openlineage`: the graph as OpenLineage RunEvents, one per file.

Sinks: JSON Lines to a file or stdout (`-o`), or HTTP POSTs to an OpenLineage endpoint
(`--url`, lineaged/export/sender.py: retries, dead letters). `--follow` keeps going:
it polls the graph and emits each file's new lineage as the daemon writes it
(lineaged/export/follow.py). Exit codes: 0 done; 1 events dead-lettered; 2 bad usage;
3 Neo4j unreachable or the query failed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from lineaged.cli.common import add_config_flags, settings_from_args
from lineaged.cli.exit_codes import ExitCode

API_KEY_ENV = "OPENLINEAGE_API_KEY"  # the variable OpenLineage's own clients read

EXAMPLES = """examples:
  lineaged export --openlineage -o lineage.jsonl
  lineaged export --openlineage --since 2h                 # files ingested in the last 2 hours
  lineaged export --openlineage --since 2026-12-01T08:00:00Z --namespace warehouse
  lineaged export --openlineage --url http://localhost:5000/api/v1/lineage      # into Marquez
  lineaged export --openlineage --url http://marquez:5000/api/v1/lineage --follow \
      --state /var/lib/lineaged/ol_follow.json      # keep sending new lineage as it lands
  lineaged export --openlineage --url http://marquez:5000/api/v1/lineage --resend-dead-letters

Neo4j connection: [neo4j] in the config, NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD.
Endpoint token: $OPENLINEAGE_API_KEY (sent as "Authorization: Bearer ...").
Dead letters: <state.dir>/openlineage_dead_letters.jsonl unless --dead-letters.
exit codes: 0 done, 1 events dead-lettered, 2 bad usage, 3 Neo4j unreachable"""

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
    p.add_argument("--url", metavar="URL", help="POST each event to this OpenLineage endpoint")
    p.add_argument("--follow", action="store_true", help="keep emitting new lineage (poll)")
    p.add_argument("--poll-s", type=float, default=2.0, metavar="S", help="--follow poll (2 s)")
    p.add_argument("--state", type=Path, metavar="FILE", help="--follow resumes from this file")
    p.add_argument("--dead-letters", type=Path, metavar="FILE", help="undeliverable events")
    p.add_argument(
        "--resend-dead-letters", action="store_true", help="send the dead letters again, exit"
    )
    add_config_flags(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if (args.resend_dead_letters or args.dead_letters) and not args.url:
        print("lineaged export: dead letters need --url", file=sys.stderr)
        return ExitCode.USAGE
    sender = _sender(args, settings.state.dir) if args.url else None
    if sender is not None and args.resend_dead_letters:
        stats = sender.resend()
        print(
            f"lineaged export: resent {stats.sent}, {stats.dead_lettered} still refused",
            file=sys.stderr,
        )
        return ExitCode.PROBLEMS if stats.dead_lettered else ExitCode.OK
    cfg = settings.neo4j
    from neo4j.exceptions import Neo4jError, ServiceUnavailable

    from lineaged.graph.connect import make_sync_driver

    try:
        with (
            make_sync_driver(cfg) as driver,
            _open("-" if sender else args.output, whole=not args.follow) as out,
        ):
            driver.verify_connectivity()
            emit = _emitter(args, out, sender)
            if args.follow:
                _follow(driver, cfg.database, args, emit)
                count = -1
            else:
                count = _export_once(driver, cfg.database, args, emit)
    except (ServiceUnavailable, OSError) as exc:
        reason = " ".join(str(exc).split())
        print(f"lineaged export: cannot reach Neo4j at {cfg.uri}: {reason}", file=sys.stderr)
        return ExitCode.CANNOT_START
    except Neo4jError as exc:
        print(f"lineaged export: query failed: {exc.message}", file=sys.stderr)
        return ExitCode.CANNOT_START
    if sender is None:
        if count >= 0:
            print(f"lineaged export: {count} events", file=sys.stderr)
        return ExitCode.OK
    stats = sender.stats
    print(
        f"lineaged export: {stats.sent} sent, {stats.retries} retries, "
        f"{stats.dead_lettered} dead-lettered ({sender.dead_letters})",
        file=sys.stderr,
    )
    # A follower stopped by a signal stopped cleanly; its dead letters are in the file.
    return ExitCode.PROBLEMS if stats.dead_lettered and not args.follow else ExitCode.OK


def _sender(args: argparse.Namespace, state_dir: Path) -> Any:
    from lineaged.export.sender import OpenLineageSender

    dead = args.dead_letters or Path(state_dir) / "openlineage_dead_letters.jsonl"
    return OpenLineageSender(args.url, dead, api_key=os.environ.get(API_KEY_ENV) or None)


def _emitter(args: argparse.Namespace, out: TextIO, sender: Any) -> Callable[[Any], None]:
    """FileRecord → its RunEvent, written as a line or POSTed."""
    import orjson

    from lineaged.export.openlineage import DEFAULT_NAMESPACE, run_event

    def emit(record: Any) -> None:
        event = run_event(
            record,
            namespace=args.namespace or DEFAULT_NAMESPACE,
            dataset_namespace=args.dataset_namespace,
        )
        if sender is not None:
            sender.send(event)
        else:
            out.write(orjson.dumps(event).decode() + "\n")
            if args.follow:
                out.flush()

    return emit


def _export_once(driver: Any, database: str, args: argparse.Namespace, emit: Any) -> int:
    from lineaged.export.graph_read import read_files

    count = 0
    for record in read_files(driver, database, since=args.since, root=args.root):
        emit(record)
        count += 1
    return count


def _follow(driver: Any, database: str, args: argparse.Namespace, emit: Any) -> None:
    """Until SIGTERM/SIGINT; a Neo4j outage is waited out (one line per failed poll)."""
    import signal
    import threading

    from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

    from lineaged.export.follow import Follower
    from lineaged.export.graph_read import read_files

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    follower = Follower(
        lambda since: read_files(driver, database, since=since, root=args.root),
        emit,
        since=args.since,
        state=args.state,
    )
    follower.run(
        stop,
        args.poll_s,
        retry_on=(ServiceUnavailable, SessionExpired, TransientError, OSError),
        on_error=lambda exc: print(
            f"lineaged export: Neo4j unavailable, retrying: {' '.join(str(exc).split())}",
            file=sys.stderr,
        ),
    )


class _open:
    """stdout for "-"; a file written whole or not at all (temp + rename), or, when
    following, appended to as events come."""

    def __init__(self, target: str, *, whole: bool = True) -> None:
        self.target = target
        self.whole = whole
        self._tmp: Path | None = None
        self._fh: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.target == "-":
            return sys.stdout
        path = Path(self.target)
        if not self.whole:
            self._fh = open(path, "a", encoding="utf-8")
            return self._fh
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._fh = open(self._tmp, "w", encoding="utf-8")
        return self._fh

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._fh is None:
            sys.stdout.flush()
            return
        self._fh.close()
        if self._tmp is None:
            return
        if exc_type is None:
            self._tmp.replace(self.target)
        else:
            self._tmp.unlink(missing_ok=True)
