"""What every command shares: where the config file is, the config flags, Settings,
and asking the graph a question."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from lineaged.config import Settings, load_settings

if TYPE_CHECKING:  # the driver is imported by the commands that use it, not for --help
    from neo4j import AsyncDriver

    from lineaged.config import Neo4jSettings

T = TypeVar("T")


def config_path(arg: str | None) -> Path | None:
    """--config, else $LINEAGED_CONFIG, else ./config.toml if there is one."""
    if arg:
        return Path(arg)
    if env := os.environ.get("LINEAGED_CONFIG"):
        return Path(env)
    default = Path("config.toml")
    return default if default.is_file() else None


def add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="config.toml (default: $LINEAGED_CONFIG or ./config.toml)",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", choices=["auto", "json", "console"])


def settings_from_args(args: argparse.Namespace, **extra: object) -> Settings:
    """config.toml < LINEAGED_* env < the command's flags (`extra`: dotted keys)."""
    overrides = {
        "log.level": getattr(args, "log_level", None),
        "log.format": getattr(args, "log_format", None),
        **extra,
    }
    return load_settings(config_path(args.config), overrides=overrides)


def ask_graph(
    command: str, cfg: Neo4jSettings, ask: Callable[[AsyncDriver], Awaitable[T]]
) -> T | None:
    """`ask(driver)` on one driver made by graph/connect.py, closed afterwards; None
    when Neo4j could not answer, with the reason printed as one line
    (`lineaged COMMAND: ...`); the caller exits 3. Read-only commands use this: no
    schema set-up happens here (that is the daemon's start-up)."""
    import anyio
    from neo4j.exceptions import Neo4jError

    from lineaged.graph.connect import CannotConnect, connected

    async def run() -> T:
        # One attempt (wait_s=0): an unreachable server fails in seconds rather than
        # after the daemon's start-up wait.
        async with connected(cfg, wait_s=0) as driver:
            return await ask(driver)

    try:
        return anyio.run(run)
    except CannotConnect as exc:
        print(f"lineaged {command}: {exc}", file=sys.stderr)
    except Neo4jError as exc:
        print(f"lineaged {command}: query failed: {exc.message}", file=sys.stderr)
    return None
