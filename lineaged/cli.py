"""`lineaged` command line. Plain `lineaged [--realtime]` means `lineaged run`.

Exit codes: 0 success; 1 the command ran and found problems (e.g. files with errors,
dead letters left); 2 bad usage or invalid configuration; 3 cannot start (Neo4j
unreachable, cache unusable).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lineaged.config import ConfigError, Settings, load_settings

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_CANNOT_START = 3

_COMMANDS = {"run", "scan", "check-config", "extract", "cache", "replay", "lineage", "status"}


def _config_path(arg: str | None) -> Path | None:
    if arg:
        return Path(arg)
    if env := os.environ.get("LINEAGED_CONFIG"):
        return Path(env)
    default = Path("config.toml")
    return default if default.is_file() else None


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="config.toml (default: $LINEAGED_CONFIG or ./config.toml)",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", choices=["auto", "json", "console"])


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    overrides = {
        "log.level": getattr(args, "log_level", None),
        "log.format": getattr(args, "log_format", None),
        **extra,
    }
    return load_settings(_config_path(args.config), overrides=overrides)


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
    _add_config_flags(run)
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
    _add_config_flags(scan)
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
    _add_config_flags(check)
    check.set_defaults(func=_cmd_check_config)

    for module in (
        "lineaged.extract.cli",
        "lineaged.cache_cli",
        "lineaged.replay",
        "lineaged.status",
        "lineaged.lineage_cli",
    ):
        try:
            mod = __import__(module, fromlist=["add_parser"])
        except ImportError:  # pragma: no cover - only while a module is being written
            continue
        mod.add_parser(sub)
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
        _settings(args, **extra), oneshot=False, reload_settings=lambda: _settings(args, **extra)
    )


def _cmd_scan(args: argparse.Namespace) -> int:
    return _run_daemon(_settings(args), oneshot=True, progress=args.progress)


def _run_daemon(
    settings: Settings,
    *,
    oneshot: bool,
    reload_settings: Callable[[], Settings] | None = None,
    progress: str = "auto",
) -> int:
    from lineaged.daemon import Daemon, StartupError
    from lineaged.logging import configure_logging

    configure_logging(settings.log.level, settings.log.format)
    if not settings.roots:
        print("lineaged: no roots configured ([[roots]] in config.toml)", file=sys.stderr)
        return EXIT_USAGE

    async def main() -> int:
        daemon = Daemon(settings, oneshot=oneshot, reload_settings=reload_settings)
        daemon.install_signal_handlers()
        if not oneshot:
            return await daemon.run()
        from lineaged.scan_report import ScanReport

        report = ScanReport(
            daemon, show_bar=progress == "always" or (progress == "auto" and sys.stderr.isatty())
        )
        code = await report.run()
        return code

    try:
        return asyncio.run(main())
    except StartupError as exc:
        print(f"lineaged: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START


def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    print(f"config ok: {len(settings.roots)} root(s)")
    for r in settings.roots:
        print(f"  {r.name}: {r.path} dialect={r.dialect} include={list(r.include)}")
    n = settings.neo4j
    password = "set" if n.password else "NOT SET"
    print(f"  neo4j: {n.uri} user={n.user} database={n.database} password={password}")
    print(f"  state dir: {settings.state.dir}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"lineaged: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
