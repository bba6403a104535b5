"""Integration tests of scripts/neo4j_local.py and of the session Neo4j fixture.

JVM starts cost ~8-10 s each, so the tests reuse the session server wherever they can:
only the restart test and the side-by-side test start a JVM of their own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError

from .conftest import (
    NEO4J_LOCAL_SCRIPT,
    TEST_HEAP,
    Neo4jInstanceControl,
    Neo4jServer,
    load_neo4j_local,
)


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the script as a developer would (separate process, not the imported module)."""
    return subprocess.run(
        [sys.executable, str(NEO4J_LOCAL_SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _count(uri: str, auth: tuple[str, str], marker: str) -> int:
    with GraphDatabase.driver(uri, auth=auth) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (n:NeoLocalProbe {marker: $m}) RETURN count(n) AS c", m=marker
        )
        return int(records[0]["c"])


def _create(uri: str, auth: tuple[str, str], marker: str) -> None:
    with GraphDatabase.driver(uri, auth=auth) as driver:
        driver.execute_query("CREATE (:NeoLocalProbe {marker: $m})", m=marker)


def test_server_accepts_password_refuses_wrong_one(neo4j_server: Neo4jServer) -> None:
    with GraphDatabase.driver(neo4j_server.uri, auth=neo4j_server.auth) as driver:
        driver.verify_connectivity()
        info = driver.get_server_info()
        assert info.agent.startswith("Neo4j/5.")
        marker = uuid.uuid4().hex
        _, summary, _ = driver.execute_query(
            "CREATE (n:NeoLocalProbe {marker: $m}) RETURN n",
            m=marker,
            database_=neo4j_server.database,
        )
        assert summary.counters.nodes_created == 1
        # EXPLAIN plans without executing; lineaged uses it to validate Cypher.
        _, summary, _ = driver.execute_query(
            "EXPLAIN MATCH (n:NeoLocalProbe {marker: $m}) RETURN n",
            m=marker,
            database_=neo4j_server.database,
        )
        assert summary.plan is not None
        assert summary.plan["operatorType"].startswith("ProduceResults")
        # No APOC: the project must not depend on it.
        records, _, _ = driver.execute_query(
            "SHOW PROCEDURES YIELD name WHERE name STARTS WITH 'apoc.' RETURN count(*) AS c",
            database_=neo4j_server.database,
        )
        assert records[0]["c"] == 0

    bad_auth = (neo4j_server.user, neo4j_server.password + "-wrong")
    with (
        GraphDatabase.driver(neo4j_server.uri, auth=bad_auth) as driver,
        pytest.raises(AuthError),
    ):
        driver.verify_connectivity()


def test_start_is_idempotent_and_status_env_agree(
    neo4j_instance_control: Neo4jInstanceControl,
) -> None:
    server = neo4j_instance_control.server
    pid_before = neo4j_instance_control.pid
    named = ("--name", neo4j_instance_control.name, "--root", neo4j_instance_control.root)

    first = _cli("start", *named)
    second = _cli("start", *named)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    expected = (
        f"export NEO4J_URI={server.uri} NEO4J_USER={server.user} NEO4J_PASSWORD={server.password}"
    )
    assert first.stdout.strip() == expected
    assert second.stdout == first.stdout
    # Same JVM: start on a running instance must not launch another one.
    assert neo4j_instance_control.pid == pid_before

    env = _cli("env", *named)
    assert env.returncode == 0 and env.stdout == first.stdout
    st = _cli("status", *named)
    assert st.returncode == 0
    assert st.stdout.startswith(f"running pid={pid_before} uri={server.uri}")


def test_stop_start_keeps_data_port_and_password(
    neo4j_instance_control: Neo4jInstanceControl,
) -> None:
    nl = load_neo4j_local()
    server = neo4j_instance_control.server
    port = int(server.uri.rsplit(":", 1)[1])
    marker = uuid.uuid4().hex
    _create(server.uri, server.auth, marker)

    neo4j_instance_control.stop()
    assert not neo4j_instance_control.is_running()
    assert not nl.bolt_handshake("127.0.0.1", port)
    named = ("--name", neo4j_instance_control.name, "--root", neo4j_instance_control.root)
    assert _cli("status", *named).returncode == 3
    assert _cli("env", *named).returncode == 3

    neo4j_instance_control.start()
    assert neo4j_instance_control.is_running()
    # Same URI and password as the session fixture handed out, and the data survived.
    assert _count(server.uri, server.auth, marker) == 1


def test_two_named_instances_side_by_side(neo4j_server: Neo4jServer, tmp_path: Path) -> None:
    nl = load_neo4j_local()
    root = tmp_path / "side"
    name = f"side-{uuid.uuid4().hex[:6]}"
    other_name: str | None = None
    try:
        side = nl.start(name, root, TEST_HEAP, owner_pid=os.getpid())
        if neo4j_server.external:
            # Nothing local to pair with: start a second local instance instead.
            other_name = f"{name}-b"
            other = nl.start(other_name, root, TEST_HEAP, owner_pid=os.getpid())
            other_uri, other_auth, other_dir = other.uri, (other.user, other.password), other.dir
        else:
            other_uri, other_auth = neo4j_server.uri, neo4j_server.auth
            other_dir = nl.instance_dir(neo4j_server.name, neo4j_server.root)

        assert side.uri != other_uri
        assert side.dir != other_dir
        assert side.password != other_auth[1]
        marker = uuid.uuid4().hex
        _create(side.uri, (side.user, side.password), marker)
        assert _count(side.uri, (side.user, side.password), marker) == 1
        assert _count(other_uri, other_auth, marker) == 0  # separate data dirs
    finally:
        nl.stop(name, root)
        if other_name is not None:
            nl.stop(other_name, root)

    # Stop is idempotent, via the API and the CLI.
    assert nl.stop(name, root) is False
    named = ("--name", name, "--root", root)
    assert _cli("stop", *named).returncode == 0
    assert _cli("status", *named).returncode == 3
    assert not nl.bolt_handshake("127.0.0.1", side.port)


def test_stop_of_unknown_instance_is_a_noop(tmp_path: Path) -> None:
    assert _cli("stop", "--name", "never-started", "--root", tmp_path).returncode == 0
    st = _cli("status", "--name", "never-started", "--root", tmp_path)
    assert st.returncode == 3 and st.stdout.startswith("stopped")


def test_start_on_busy_port_fails_fast_with_reason(tmp_path: Path) -> None:
    nl = load_neo4j_local()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(nl.Neo4jLocalError, match=f"port 127.0.0.1:{port} is in use"):
            nl.start("busy", tmp_path, TEST_HEAP, port=port)
    assert not nl.status("busy", tmp_path).running
