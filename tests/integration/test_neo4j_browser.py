"""`neo4j_local.py start --http`: the HTTP API, Neo4j Browser and lineaged's Browser guide.

One JVM of its own (the session server runs without HTTP, as every other test wants
it): started once for the module, loaded with the bundled examples by `lineaged scan`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from .conftest import TEST_HEAP, Neo4jServer, load_neo4j_local
from .examples_graph import BROKEN_ROOT, examples_lineage, scan_examples

GUIDE = Path(__file__).resolve().parents[2] / "scripts" / "neo4j" / "browser" / "guide.html"


@pytest.fixture(scope="module")
def http_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    nl = load_neo4j_local()
    root = tmp_path_factory.mktemp("neo4j-http")
    name = f"browser-{uuid.uuid4().hex[:6]}"
    try:
        # Generous: a loaded 2-core machine took over 2 minutes to start one JVM.
        yield nl.start(name, root, TEST_HEAP, owner_pid=os.getpid(), http=True, timeout=400)
    finally:
        nl.stop(name, root)


@pytest.fixture(scope="module")
def examples_loaded(http_instance: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = Neo4jServer(http_instance.uri, http_instance.user, http_instance.password)
    scan_examples(server, tmp_path_factory.mktemp("scan"), broken_file=True)
    return http_instance


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), ""


def _cypher(inst: Any, query: str, params: dict[str, Any] | None = None, *, auth: bool = True):
    """One statement through the transactional HTTP API; returns (status, body)."""
    body = json.dumps({"statements": [{"statement": query, "parameters": params or {}}]})
    req = urllib.request.Request(
        f"{inst.http_url}/db/neo4j/tx/commit",
        data=body.encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    if auth:
        token = base64.b64encode(f"{inst.user}:{inst.password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _rows(inst: Any, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
    status, body = _cypher(inst, query, params)
    assert status == 200 and not body["errors"], (query, body.get("errors"))
    return [d["row"] for d in body["results"][0]["data"]]


def test_http_endpoint_answers_with_its_bolt_address(http_instance: Any) -> None:
    assert http_instance.http_url.startswith("http://127.0.0.1:")
    assert http_instance.env()["NEO4J_HTTP_URL"] == http_instance.http_url
    status, ctype, text = _get(http_instance.http_url + "/")
    assert status == 200 and "json" in ctype
    discovery = json.loads(text)
    assert discovery["bolt_direct"] == http_instance.uri
    assert discovery["neo4j_edition"] == "community"


def test_browser_index_page_is_served(http_instance: Any) -> None:
    status, ctype, text = _get(http_instance.http_url + "/browser/")
    assert status == 200 and "text/html" in ctype
    assert "<title>Neo4j Browser</title>" in text
    # The page's scripts are served too (not only index.html).
    script = re.search(r'src="([^"]+\.js)"', text)
    assert script is not None
    assert _get(f"{http_instance.http_url}/browser/{script.group(1)}")[0] == 200
    # The printed link opens the Browser with the Bolt address filled in.
    assert http_instance.browser_url.endswith(f"?dbms=bolt://neo4j@127.0.0.1:{http_instance.port}")


def test_guide_and_style_are_served_without_login_nothing_else(http_instance: Any) -> None:
    status, ctype, text = _get(http_instance.http_url + "/lineaged/guide.html")
    assert status == 200 and "text/html" in ctype and "<slide" in text
    status, _, grass = _get(http_instance.http_url + "/lineaged/lineaged.grass")
    assert status == 200
    for label in ("Table", "Column", "File", "Statement"):
        assert f"node.{label} {{" in grass
    assert _get(http_instance.http_url + "/lineaged/password")[0] == 404
    # Jetty refuses an encoded traversal itself (400); either way nothing is served.
    assert _get(http_instance.http_url + "/lineaged/..%2Fpassword")[0] in (400, 404)


def test_browser_connect_settings_load_the_guide_and_style(http_instance: Any) -> None:
    rows = _rows(
        http_instance,
        "CALL dbms.clientConfig() YIELD name, value "
        "WHERE name STARTS WITH 'browser.' RETURN name, value",
    )
    config = dict((name, value) for name, value in rows)
    cmd = config["browser.post_connect_cmd"]
    assert f"style {http_instance.http_url}/lineaged/lineaged.grass" in cmd
    assert f"play {http_instance.http_url}/lineaged/guide.html" in cmd
    assert "127.0.0.1" in config["browser.remote_content_hostname_whitelist"]


def test_cypher_over_http_needs_credentials(http_instance: Any) -> None:
    assert _cypher(http_instance, "RETURN 1", auth=False)[0] == 401


def _expected_table_edges() -> set[tuple[str, str]]:
    """Source → target of every statement in examples/, from the extractor itself."""
    return {
        (src, dst)
        for lineage in examples_lineage().values()
        for st in lineage.statements
        for src in st.sources
        for dst in st.targets
    }


def test_cypher_over_http_returns_the_examples_lineage(examples_loaded: Any) -> None:
    rows = _rows(
        examples_loaded,
        "MATCH (src:Table)<-[:READS]-(:Statement)-[:WRITES]->(dst:Table) "
        "RETURN DISTINCT src.name, dst.name",
    )
    expected = _expected_table_edges()
    assert ("staging.stg_customers", "marts.dim_customers") in expected
    assert {tuple(r) for r in rows} == expected


def _guide_queries() -> tuple[dict[str, str], list[str]]:
    """The guide's :param values and its Cypher blocks, as the Browser would run them."""
    blocks = [
        unescape(b).strip()
        for b in re.findall(r'<pre class="runnable">(.*?)</pre>', GUIDE.read_text(), re.S)
    ]
    params = {}
    for block in blocks:
        m = re.fullmatch(r":param (\w+) => '([^']*)'", block)
        if m:
            params[m.group(1)] = m.group(2)
    return params, [b for b in blocks if not b.startswith(":")]


def test_every_guide_query_answers_on_the_examples(examples_loaded: Any) -> None:
    params, queries = _guide_queries()
    assert len(queries) >= 8 and {"table", "column", "source_column"} <= params.keys()
    for query in queries:
        assert _rows(examples_loaded, query, params), f"no rows for guide query:\n{query}"
    (files_with_errors,) = [q for q in queries if "statement_errors" in q]
    errors = _rows(examples_loaded, files_with_errors, params)
    assert [r[0] for r in errors] == [BROKEN_ROOT]
