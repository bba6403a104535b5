"""What every command shares: where the config file is, the config flags, Settings."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lineaged.config import Settings, load_settings


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
