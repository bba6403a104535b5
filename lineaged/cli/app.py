"""`lineaged` command line. Plain `lineaged [--realtime]` means `lineaged run`.

Exit codes: see `ExitCode` (0 success; 1 the command ran and found problems; 2 bad
usage or invalid configuration; 3 cannot start; 130/143 stopped by a second signal).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from lineaged.cli import cache, dump, export, extract, lineage, replay, status
from lineaged.cli.common import add_config_flags, settings_from_args
from lineaged.cli.exit_codes import ExitCode
from lineaged.config import ConfigError, Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lineaged",
        description="Keep a Neo4j lineage graph in step with directories of SQL files.",
        epilog="Examples:\n  lineaged --realtime -c config.toml\n  lineaged scan -c config.toml\n"
        "  lineaged extract models/ --json\n\nExit codes: 0 ok, 1 problems found, "
        "2 bad usage/config, 3 cannot start.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="watch the roots and keep the graph current (default)",
        description="Reconcile every root with the graph, then follow file changes.",
        epilog="Examples:\n  lineaged run -c /etc/lineaged/config.toml\n  lineaged --realtime",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_flags(run)
    run.add_argument("--realtime", action="store_true", help="near-zero debounce, for editing")
    run.add_argument(
        "--disable-batching", action="store_true", help="hand every event on alone (debugging)"
    )
    run.set_defaults(func=_cmd_run)

    scan = sub.add_parser(
        "scan",
        help="one-shot backfill of every root, then exit",
        epilog="Example:\n  lineaged scan -c config.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_flags(scan)
    scan.add_argument(
        "--progress",
        choices=["auto", "always", "never"],
        default="auto",
        help="progress bar on stderr (auto: only on a TTY)",
    )
    scan.set_defaults(func=_cmd_scan)

    check = sub.add_parser(
        "check-config",
        help="validate the configuration and print it (without secrets)",
        epilog="Example:\n  LINEAGED_BATCH_DEBOUNCE_MS=50 lineaged check-config -c config.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_flags(check)
    check.set_defaults(func=_cmd_check_config)

    for command in (extract, cache, replay, status, lineage, dump, export):
        command.add_parser(sub)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    extra: dict[str, object] = {}
    if args.realtime:
        extra["realtime"] = True
    if args.disable_batching:
        extra["batch.max_batch"] = 1
        extra["batch.debounce_ms"] = 0
        extra["batch.realtime_debounce_ms"] = 0
    return _run_daemon(
        settings_from_args(args, **extra),
        oneshot=False,
        reload_settings=lambda: settings_from_args(args, **extra),
    )


def _cmd_scan(args: argparse.Namespace) -> int:
    return _run_daemon(settings_from_args(args), oneshot=True, progress=args.progress)


def _run_daemon(
    settings: Settings,
    *,
    oneshot: bool,
    reload_settings: Callable[[], Settings] | None = None,
    progress: str = "auto",
) -> int:
    import anyio

    from lineaged.daemon import Daemon, StartupError
    from lineaged.logging import configure_logging

    configure_logging(settings.log.level, settings.log.format)
    if not settings.roots:
        print("lineaged: no roots configured ([[roots]] in config.toml)", file=sys.stderr)
        return ExitCode.USAGE

    async def main() -> int:
        daemon = Daemon(
            settings, oneshot=oneshot, reload_settings=reload_settings, handle_signals=True
        )
        if not oneshot:
            return await daemon.run()
        from lineaged.cli.scan_report import ScanReport

        report = ScanReport(
            daemon, show_bar=progress == "always" or (progress == "auto" and sys.stderr.isatty())
        )
        code = await report.run()
        return code

    try:
        return anyio.run(main, backend="asyncio")
    except StartupError as exc:
        print(f"lineaged: {exc}", file=sys.stderr)
        return ExitCode.CANNOT_START


def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    print(f"config ok: {len(settings.roots)} root(s)")
    for r in settings.roots:
        print(f"  {r.name}: {r.path} dialect={r.dialect} include={list(r.include)}")
    n = settings.neo4j
    password = "set" if n.password else "NOT SET"
    print(f"  neo4j: {n.uri} user={n.user} database={n.database} password={password}")
    print(f"  state dir: {settings.state.dir}")
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return ExitCode.USAGE
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"lineaged: config error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
