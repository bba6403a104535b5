"""Fixtures for integration tests against a real Neo4j server over Bolt.

By default a throw-away Neo4j Community instance is started with
scripts/neo4j_local.py under a pytest temp dir and stopped at the end of the session.
To use an already running server instead, export NEO4J_URI (and NEO4J_USER,
NEO4J_PASSWORD, optionally NEO4J_DATABASE); then nothing is started.

Every test collected under tests/integration is marked `integration`.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
NEO4J_LOCAL_SCRIPT = PROJECT_DIR / "scripts" / "neo4j_local.py"
_HERE = Path(__file__).resolve().parent

# Small but enough for the lineage graphs the tests build; keeps RSS around 0.4-0.6 GB.
TEST_HEAP = os.environ.get("LINEAGED_TEST_NEO4J_HEAP", "512m")


def load_neo4j_local() -> ModuleType:
    """Import scripts/neo4j_local.py by path (scripts/ is not a package).

    Cached in sys.modules so every test shares one module, and with it the registry
    of JVMs this process started (needed to reap them correctly).
    """
    mod_name = "lineaged_scripts_neo4j_local"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, NEO4J_LOCAL_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before exec: dataclasses resolve annotations through sys.modules.
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Neo4jServer:
    """Connection details handed to tests (same shape for local and external)."""

    uri: str
    user: str
    password: str
    database: str = "neo4j"
    # True when NEO4J_URI pointed at a server we did not start.
    external: bool = False
    # Local instances only: where scripts/neo4j_local.py keeps it.
    name: str | None = None
    root: Path | None = None

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)


class Neo4jInstanceControl:
    """Stop and restart the session's local server (same port, password and data)."""

    def __init__(self, server: Neo4jServer) -> None:
        assert server.name is not None and server.root is not None
        self.server = server
        self._nl = load_neo4j_local()
        self._port = int(server.uri.rsplit(":", 1)[1])

    @property
    def name(self) -> str:
        assert self.server.name is not None
        return self.server.name

    @property
    def root(self) -> Path:
        assert self.server.root is not None
        return self.server.root

    @property
    def pid(self) -> int | None:
        return self._nl.status(self.name, self.root).pid

    def is_running(self) -> bool:
        return bool(self._nl.status(self.name, self.root).running)

    def stop(self) -> None:
        """Clean stop (SIGTERM -> DBMS shutdown), like an operator stopping Neo4j."""
        self._nl.stop(self.name, self.root)

    def kill(self) -> None:
        """Hard stop (SIGKILL): the next start has to run store recovery."""
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        self._nl.stop(self.name, self.root)  # reaps it and records "stopped"

    def start(self) -> Neo4jServer:
        """Start again on the *same* port; fails rather than silently moving port."""
        inst = self._nl.start(
            self.name, self.root, TEST_HEAP, port=self._port, owner_pid=os.getpid()
        )
        if inst.uri != self.server.uri or inst.password != self.server.password:
            raise AssertionError(f"restart changed connection details: {inst.uri}")
        return self.server

    def ensure_running(self) -> None:
        if not self.is_running():
            self.start()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items, so only mark ours.
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def neo4j_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Neo4jServer:
    """A Neo4j server for the whole session: external (NEO4J_URI) or a local one."""
    uri = os.environ.get("NEO4J_URI")
    if uri:
        return Neo4jServer(
            uri=uri,
            user=os.environ.get("NEO4J_USER", "neo4j"),
            password=os.environ.get("NEO4J_PASSWORD", ""),
            database=os.environ.get("NEO4J_DATABASE", "neo4j"),
            external=True,
        )

    nl = load_neo4j_local()
    root = tmp_path_factory.mktemp("neo4j")
    name = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    # Registered before starting, so a start that fails or is interrupted (Ctrl-C)
    # still gets its JVM stopped; stop() is a no-op for a never-started instance.
    request.addfinalizer(lambda: nl.stop(name, root))
    try:
        # owner_pid: if pytest dies without running finalizers (SIGKILL), the server
        # notices within a second or so and shuts itself down.
        inst = nl.start(name, root, TEST_HEAP, owner_pid=os.getpid())
    except Exception as exc:
        # Fail, never skip: integration tests that silently do not run hide breakage.
        pytest.fail(f"could not start a local Neo4j for integration tests: {exc}", pytrace=False)
    return Neo4jServer(
        uri=inst.uri,
        user=inst.user,
        password=inst.password,
        database=inst.database,
        name=name,
        root=root,
    )


@pytest.fixture
def neo4j_instance_control(neo4j_server: Neo4jServer) -> Iterator[Neo4jInstanceControl]:
    """Bounce the session's server (fault tests). Skips for an external server.

    Function-scoped on purpose: whatever the test does, the server is running again
    afterwards, so one fault test cannot break every test after it.
    """
    if neo4j_server.external:
        pytest.skip("NEO4J_URI points at an external Neo4j; refusing to stop/start it")
    control = Neo4jInstanceControl(neo4j_server)
    yield control
    control.ensure_running()


@pytest.fixture
def neo4j_driver(neo4j_server: Neo4jServer) -> Iterator[Any]:
    """A sync neo4j.Driver for the session server, closed after the test."""
    from neo4j import GraphDatabase

    driver = GraphDatabase.driver(neo4j_server.uri, auth=neo4j_server.auth)
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture
async def graph(neo4j_server: Neo4jServer) -> Any:
    """An async driver on an emptied graph with lineaged's schema in place."""
    from neo4j import AsyncGraphDatabase

    from lineaged.graph.schema import ensure_schema

    driver = AsyncGraphDatabase.driver(
        neo4j_server.uri, auth=neo4j_server.auth, notifications_min_severity="OFF"
    )
    await driver.execute_query("MATCH (n) DETACH DELETE n", database_=neo4j_server.database)
    await ensure_schema(driver, neo4j_server.database)
    try:
        yield driver
    finally:
        await driver.close()
