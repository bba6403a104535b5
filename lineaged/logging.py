"""structlog set-up: JSON lines under systemd or when not on a TTY, readable on a TTY."""

from __future__ import annotations

import logging
import os
import sys

import structlog

from lineaged.logfilter import LIMITER

_SECRET_KEYS = frozenset({"password", "neo4j_password", "auth"})


def _redact(_logger: object, _name: str, event: dict) -> dict:
    # Belt and braces: no code path should log a password, but if one ever does,
    # the value never reaches the journal.
    for key in _SECRET_KEYS & event.keys():
        event[key] = "***"
    return event


def wants_json(fmt: str = "auto") -> bool:
    if fmt != "auto":
        return fmt == "json"
    under_systemd = bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))
    return under_systemd or not sys.stderr.isatty()


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    numeric = logging.getLevelNamesMapping()[level.upper()]
    renderer = (
        structlog.processors.JSONRenderer()
        if wants_json(fmt)
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            LIMITER,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # The neo4j driver logs through stdlib logging; keep its chatter at WARNING.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
