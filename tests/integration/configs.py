"""The config.toml and environment the integration tests give a daemon."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def config_text(
    root: Path, state: Path, *, workers: int = 2, extra: str = "", root_extra: str = ""
) -> str:
    """One postgres root named "wh"; `extra` adds whole TOML sections ([batch], ...),
    `root_extra` keys of the root (follow_symlinks = true, ...)."""
    return f"""
[[roots]]
name = "wh"
path = "{root}"
dialect = "postgres"
{root_extra}

[pool]
workers = {workers}

[state]
dir = "{state}"
{extra}
"""


def neo4j_env(server: Any) -> dict[str, str]:
    return {"NEO4J_URI": server.uri, "NEO4J_USER": server.user, "NEO4J_PASSWORD": server.password}


def process_env(server: Any, **extra: str) -> dict[str, str]:
    """The environment of a lineaged child process on `server`: ours with the server's
    credentials, without what would redirect it (our systemd notify socket, a
    developer's LINEAGED_CONFIG)."""
    env = {**os.environ, **neo4j_env(server), **extra}
    env.pop("NOTIFY_SOCKET", None)
    env.pop("LINEAGED_CONFIG", None)
    return env
