"""`lineaged status`: what the running daemon is doing, read from its /metrics.

Exit codes: 0 the daemon answers and is healthy; 1 it answers but is not healthy
(starting, draining, Neo4j unreachable, loop stalled); 3 nothing answers at the address.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from lineaged import metric_names as n
from lineaged.cli.common import add_config_flags, ask_graph, settings_from_args
from lineaged.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from lineaged.config import Neo4jSettings

TOTAL, INFO = "_total", "_info"  # sample suffixes of counter and info families

EXAMPLES = """examples:
  lineaged status                       # address from ./config.toml or $LINEAGED_CONFIG
  lineaged status -c /etc/lineaged/config.toml
  lineaged status --url http://127.0.0.1:9464 --json | jq .queue
  lineaged status --errors -c /etc/lineaged/config.toml   # every file with an error

exit codes: 0 healthy, 1 running but unhealthy, 3 daemon not reachable"""


@dataclass
class Status:
    state: str = "unknown"
    healthy: bool = False
    uptime_s: float = 0.0
    heartbeat_age_s: float = 0.0
    neo4j_up: bool = False
    neo4j_waiting_s: float = 0.0
    queue: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    write_rows: int = 0
    rss_bytes: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    log_repeats_suppressed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_metrics(text: str) -> Status:
    from prometheus_client.parser import text_string_to_metric_families

    st = Status()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            _take(st, sample.name, sample.labels, sample.value)
    return st


def _take(st: Status, name: str, labels: dict[str, str], value: float) -> None:
    if name == n.STATE and value == 1:
        st.state = labels.get(n.STATE, st.state)
    elif name == n.HEALTHY:
        st.healthy = value == 1
    elif name == n.UP_SECONDS:
        st.uptime_s = value
    elif name == n.HEARTBEAT_AGE:
        st.heartbeat_age_s = value
    elif name == n.NEO4J_UP:
        st.neo4j_up = value == 1
    elif name == n.NEO4J_WAITING:
        st.neo4j_waiting_s = value
    elif name == n.QUEUE_DEPTH:
        st.queue[labels["priority"]] = int(value)
    elif name == n.PENDING_FILES:
        st.pending[labels["source"]] = int(value)
    elif name == n.FILES + TOTAL:
        st.files[labels["outcome"]] = int(value)
    elif name == n.DEAD_LETTERS + TOTAL:
        st.dead_letters = int(value)
    elif name == n.WRITE_ROWS + TOTAL:
        st.write_rows = int(value)
    elif name == n.RSS_BYTES:
        st.rss_bytes[labels["process"]] = int(value)
    elif name == n.LOG_REPEATS_SUPPRESSED + TOTAL:
        st.log_repeats_suppressed = int(value)
    elif name == n.LAST_ERROR + INFO:
        st.last_error = labels.get("message")


def fetch(url: str, timeout_s: float = 3.0) -> str:
    import urllib.request

    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=timeout_s) as resp:
        return resp.read().decode()


def render(st: Status, url: str) -> str:
    mib = {k: f"{v / 2**20:.0f} MiB" for k, v in st.rss_bytes.items()}
    lines = [
        f"lineaged at {url}: {st.state}, {'healthy' if st.healthy else 'UNHEALTHY'}",
        f"  up {st.uptime_s:.0f} s, loop heartbeat {st.heartbeat_age_s:.1f} s ago",
        f"  neo4j: {'reachable' if st.neo4j_up else 'UNREACHABLE'}"
        + (f", writes waiting {st.neo4j_waiting_s:.0f} s" if st.neo4j_waiting_s else ""),
        f"  queue: {_kv(st.queue)}; pending in batchers: {_kv(st.pending)}",
        f"  files: {_kv(st.files)}; dead letters: {st.dead_letters}; rows written: {st.write_rows}",
        f"  memory: {_kv(mib)}",
        f"  last error: {st.last_error or 'none'}"
        + (
            f" ({st.log_repeats_suppressed} repeated log lines suppressed; "
            "every file with an error: lineaged status --errors)"
            if st.log_repeats_suppressed
            else ""
        ),
    ]
    return "\n".join(lines)


def _kv(d: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in d.items()) or "-"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "status",
        help="state, queue and last error of the running daemon (from its /metrics)",
        description="Ask the running daemon how it is doing, through its metrics endpoint "
        "(service.metrics_address in the config).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_flags(p)
    p.add_argument("--url", help="metrics base URL (overrides the config)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--timeout", type=float, default=3.0, metavar="S", help="seconds (default 3)")
    p.add_argument(
        "--errors",
        action="store_true",
        help="list every file whose lineage has an error, from the graph (exit 1 if any)",
    )
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    if args.errors:
        return print_errors(settings_from_args(args).neo4j, args.json)
    url = args.url or _url_from_config(args)
    if url is None:
        print("lineaged status: metrics are disabled (service.metrics_address)", file=sys.stderr)
        return ExitCode.CANNOT_START
    try:
        st = parse_metrics(fetch(url, args.timeout))
    except (OSError, ValueError) as exc:  # urllib's URLError is an OSError
        reason = getattr(exc, "reason", exc)
        print(f"lineaged status: no daemon answering at {url}: {reason}", file=sys.stderr)
        return ExitCode.CANNOT_START
    if args.json:
        sys.stdout.buffer.write(orjson.dumps({"url": url, **st.to_dict()}) + b"\n")
    else:
        print(render(st, url))
    return ExitCode.OK if st.healthy else ExitCode.PROBLEMS


def _url_from_config(args: argparse.Namespace) -> str | None:
    from lineaged.metrics_http import parse_address

    where = parse_address(settings_from_args(args).service.metrics_address)
    if where is None:
        return None
    host, port = where
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def print_errors(cfg: Neo4jSettings, as_json: bool) -> int:
    """`--errors`: the files whose lineage carries an error, from the graph; exit 1
    when there is any, 3 when Neo4j cannot answer."""
    from dataclasses import asdict

    from lineaged.file_errors import files_with_errors

    errors = ask_graph("status", cfg, lambda driver: files_with_errors(driver, cfg.database))
    if errors is None:
        return ExitCode.CANNOT_START
    if as_json:
        sys.stdout.buffer.write(orjson.dumps([asdict(e) for e in errors]) + b"\n")
    else:
        for e in errors:
            print(e.line())
        print(f"{len(errors)} file(s) with errors")
    return ExitCode.PROBLEMS if errors else ExitCode.OK
