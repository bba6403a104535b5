"""The one place a Neo4j driver is made (daemon, replay, lineage, status, dump, export).

`connect()` returns a driver whose connectivity has been verified: transient failures
(server starting, network away) are retried once a second until the wait runs out,
fatal ones (wrong credentials, no such database) fail at once. Either way the failure
is one line for the operator (`CannotConnect`), and a half-made driver is closed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from neo4j import AsyncDriver, AsyncGraphDatabase, Driver, GraphDatabase

from lineaged.config import Neo4jSettings
from lineaged.graph.errors import ErrorKind, classify, describe

RETRY_EVERY_S = 1.0


class CannotConnect(RuntimeError):
    """Neo4j cannot be reached or refuses us; the message is one line."""


def make_driver(cfg: Neo4jSettings) -> AsyncDriver:
    # Notifications off: the writer's queries are checked by tests (EXPLAIN), and the
    # server's hints would otherwise be logged as warnings on every run.
    return AsyncGraphDatabase.driver(
        cfg.uri, auth=(cfg.user, cfg.password), notifications_min_severity="OFF"
    )


def make_sync_driver(cfg: Neo4jSettings) -> Driver:
    """The blocking driver, for `export` whose reads and HTTP sends are synchronous; same
    settings as `make_driver`, so no command sets a driver up its own way."""
    return GraphDatabase.driver(
        cfg.uri, auth=(cfg.user, cfg.password), notifications_min_severity="OFF"
    )


async def connect(cfg: Neo4jSettings, *, wait_s: float | None = None) -> AsyncDriver:
    """A verified driver. `wait_s` (default `cfg.connect_timeout_s`) bounds how long a
    server that is not up yet is waited for; 0 means one attempt."""
    driver = make_driver(cfg)
    deadline = time.monotonic() + (cfg.connect_timeout_s if wait_s is None else wait_s)
    while True:
        try:
            await driver.verify_connectivity()
            return driver
        except Exception as exc:
            if classify(exc) is ErrorKind.FATAL or time.monotonic() >= deadline:
                with anyio.CancelScope(shield=True):
                    await driver.close()
                reason = " ".join(describe(exc).split())  # one line, whatever the driver says
                raise CannotConnect(f"cannot reach Neo4j at {cfg.uri}: {reason}") from exc
            await anyio.sleep(RETRY_EVERY_S)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await driver.close()
            raise


@asynccontextmanager
async def connected(
    cfg: Neo4jSettings, *, wait_s: float | None = None
) -> AsyncIterator[AsyncDriver]:
    """`connect()` for a command that uses the driver and is done: closed on the way out."""
    driver = await connect(cfg, wait_s=wait_s)
    try:
        yield driver
    finally:
        with anyio.CancelScope(shield=True):
            await driver.close()
