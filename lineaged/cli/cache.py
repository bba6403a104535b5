"""`lineaged cache stats|clear|vacuum|verify`: inspect and maintain the cache file.

Safe while the daemon runs (see lineaged/cache/admin.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from lineaged.cli.common import config_path
from lineaged.cli.exit_codes import ExitCode
from lineaged.config import load_settings

if TYPE_CHECKING:
    from lineaged.cache import FileStats

ENV_PATH = "LINEAGED_CACHE_PATH"
FALLBACK_PATH = Path(".lineaged") / "cache.sqlite"

_EXAMPLES = {
    "stats": [
        "lineaged cache stats",
        "lineaged cache stats --json | jq .hit_rate",
        "lineaged cache stats --path /var/lib/lineaged/cache.sqlite",
    ],
    "clear": [
        "lineaged cache clear    # next start re-hashes and re-parses everything",
        "LINEAGED_CACHE_PATH=/var/lib/lineaged/cache.sqlite lineaged cache clear",
    ],
    "vacuum": ["lineaged cache vacuum   # return space freed by evictions to the filesystem"],
    "verify": ["lineaged cache verify && echo healthy    # exit 1 on any problem"],
}
_HELP = {
    "stats": "entries, bytes, hit rate, evictions, stat-cache size",
    "clear": "empty the parse cache, the stat cache and the schema catalog",
    "vacuum": "compact the file (safe while the daemon runs; it waits for the lock)",
    "verify": "integrity check, running totals, decode every entry; exit 1 on any problem",
}


def _epilog(*groups: list[str]) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for group in groups for line in group)


def default_path(config: str | None = None) -> Path:
    """--path, else $LINEAGED_CACHE_PATH, else <state.dir>/cache.sqlite of the config
    (--config, $LINEAGED_CONFIG or ./config.toml), else ./.lineaged/cache.sqlite."""
    env = os.environ.get(ENV_PATH)
    if env:
        return Path(env)
    path = config_path(config)
    if path is not None:
        return load_settings(path).state.dir / "cache.sqlite"
    return FALLBACK_PATH


def add_parser(subparsers: Any) -> None:
    cache = subparsers.add_parser(
        "cache",
        help="inspect or maintain the parse/stat cache",
        description="Inspect or maintain the parse/stat cache file. "
        "It is only a cache: clearing or deleting it costs time, never correctness.",
        epilog=_epilog(*_EXAMPLES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--path",
        type=Path,
        default=None,
        help=f"cache file (default: ${ENV_PATH}, else <state.dir>/cache.sqlite of the config, "
        f"else ./{FALLBACK_PATH})",
    )
    common.add_argument("--config", "-c", metavar="FILE", help="config.toml to take state.dir from")
    actions = cache.add_subparsers(dest="cache_action", metavar="ACTION", required=True)
    for name, handler in _HANDLERS.items():
        sub = actions.add_parser(
            name,
            parents=[common],
            help=_HELP[name],
            description=_HELP[name],
            epilog=_epilog(_EXAMPLES[name]),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == "stats":
            sub.add_argument("--json", action="store_true", help="print one JSON object")
        sub.set_defaults(func=_guarded(handler))


def _guarded(handler: Callable[[argparse.Namespace, Path], int]):
    """Turn the expected failures into one clear line and exit 1, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        import sqlite3

        from lineaged.cache import CacheFileMissing, NotACacheFile

        path = args.path or default_path(args.config)
        try:
            return handler(args, path)
        except CacheFileMissing:
            print(
                f"lineaged cache: no cache file at {path} (set --path or ${ENV_PATH})",
                file=sys.stderr,
            )
        except NotACacheFile as exc:
            print(f"lineaged cache: {exc}", file=sys.stderr)
        except sqlite3.Error as exc:
            print(f"lineaged cache: {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ExitCode.PROBLEMS

    return run


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def format_stats(s: FileStats) -> str:
    rows = [
        ("path", s.path),
        ("file size", f"{_human_bytes(s.file_bytes)} (+ WAL {_human_bytes(s.wal_bytes)})"),
        ("schema version", str(s.schema_version)),
        ("entries", f"{s.entries:,}"),
        ("stored bytes", _human_bytes(s.bytes)),
        ("avg per entry", _human_bytes(s.bytes / s.entries) if s.entries else "-"),
        ("hits / misses", f"{s.hits:,} / {s.misses:,}"),
        ("hit rate", f"{s.hit_rate:.1%}"),
        ("evictions", f"{s.evictions:,} (LRU) + {s.expired:,} (TTL)"),
        ("oldest use", _when(s.oldest_used)),
        ("newest use", _when(s.newest_used)),
        ("stat entries", f"{s.stat_entries:,}"),
    ]
    rows += [(f"  root {root}", f"{n:,}") for root, n in s.stat_roots.items()]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _stats(args: argparse.Namespace, path: Path) -> int:
    import asyncio

    from lineaged.cache import cache_stats

    s = asyncio.run(cache_stats(path))
    if args.json:
        print(orjson.dumps(dataclasses.asdict(s), option=orjson.OPT_INDENT_2).decode())
    else:
        print(format_stats(s))
    return ExitCode.OK


def _clear(args: argparse.Namespace, path: Path) -> int:
    import asyncio

    from lineaged.cache import clear_cache

    r = asyncio.run(clear_cache(path))
    print(f"cleared {r.entries:,} parse entries and {r.stat_entries:,} stat entries from {path}")
    return ExitCode.OK


def _vacuum(args: argparse.Namespace, path: Path) -> int:
    import asyncio

    from lineaged.cache import vacuum_cache

    r = asyncio.run(vacuum_cache(path))
    print(f"{path}: {_human_bytes(r.bytes_before)} -> {_human_bytes(r.bytes_after)}")
    return ExitCode.OK


def _verify(args: argparse.Namespace, path: Path) -> int:
    import asyncio

    from lineaged.cache import verify_cache

    r = asyncio.run(verify_cache(path))
    for note in r.notes:
        print(f"note: {note}")
    for problem in r.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if not r.ok:
        print(f"{path}: FAILED ({len(r.problems)} problems)", file=sys.stderr)
        return ExitCode.PROBLEMS
    print(f"{path}: ok ({r.entries_checked:,} entries decoded)")
    return ExitCode.OK


_HANDLERS: dict[str, Callable[[argparse.Namespace, Path], int]] = {
    "stats": _stats,
    "clear": _clear,
    "vacuum": _vacuum,
    "verify": _verify,
}
