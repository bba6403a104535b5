"""A dbt project under a running daemon on real Neo4j: models land under their dbt
relations, and editing a macro re-extracts only the models that use it (the graph
follows; the other models' File nodes are not rewritten)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lineaged.config import load_settings
from lineaged.daemon import Daemon

from .configs import neo4j_env
from .graphs import query, table_edges, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dbt_shop"


@pytest.fixture
async def running(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> AsyncIterator[tuple[Path, Daemon]]:
    root = tmp_path / "dbt_shop"
    shutil.copytree(EXAMPLE, root)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[[roots]]
name = "dbt"
path = "{root}"
dialect = "duckdb"
include = ["**/*.sql", "**/*.yml", "seeds/**/*.csv"]

[pool]
workers = 2

[state]
dir = "{tmp_path / "state"}"
"""
    )
    settings = load_settings(cfg, env=neo4j_env(neo4j_server), overrides={"realtime": True})
    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 120)
    try:
        yield root, daemon
    finally:
        daemon.request_stop("test")
        assert await asyncio.wait_for(task, 60) == 0


async def ingested(graph: Any) -> dict[str, Any]:
    rows = await query(graph, "MATCH (f:File {root: 'dbt'}) RETURN f.path AS p, f.ingested_at AS t")
    return {r["p"]: r["t"] for r in rows}


async def quiet(graph: Any, daemon: Daemon, still_s: float = 2.0) -> dict[str, Any]:
    """The File nodes' ingest times once the daemon has nothing queued or in flight
    and nothing was rewritten for `still_s` seconds (the corpus catalog re-extracts
    readers once the models they read define their columns)."""
    last: dict[str, Any] | None = None
    while True:
        await asyncio.sleep(still_s)
        now = await ingested(graph)
        busy = len(daemon.live) or len(daemon.backfill) or daemon._batches_open
        if now == last and not busy:
            return now
        last = now


async def amount_sources(graph: Any) -> set[str]:
    rows = await query(
        graph,
        "MATCH (:Column {id: 'main.stg_payments.amount'})-[r:DERIVES_FROM]->(s:Column) "
        "WHERE r.transform STARTS WITH 'DIRECT' RETURN s.id AS s",
    )
    return {r["s"] for r in rows}


async def test_macro_edit_reaches_the_graph_through_its_users_only(
    running: tuple[Path, Daemon], graph: Any
) -> None:
    root, daemon = running
    expected = {
        ("models/staging/stg_payments.sql", "WRITES", "main.stg_payments"),
        ("models/staging/stg_payments.sql", "READS", "raw.payment_events"),
        ("models/marts/finance/revenue_daily.sql", "WRITES", "main_finance.daily_revenue"),
        ("models/marts/core/dim_customers.sql", "READS", "snapshots.customers_snapshot"),
        ("seeds/country_codes.csv", "WRITES", "main_reference.country_codes"),
    }
    await wait_for(lambda: table_edges(graph), lambda e: expected <= e, timeout=120)
    assert not any("{" in t or "}" in t for _p, _r, t in await table_edges(graph))
    # The README's upstream query on this example.
    rows = await query(
        graph,
        "MATCH (t:Table {name: 'main_finance.daily_revenue'}) "
        "((:Table)<-[:WRITES]-(:Statement)-[:READS]->(:Table)){1,10} (up:Table) "
        "OPTIONAL MATCH (f:File)-[:CONTAINS]->(:Statement)-[:WRITES]->(up) "
        "RETURN DISTINCT up.name AS upstream, f.path AS written_by ORDER BY upstream",
    )
    assert [(r["upstream"], r["written_by"]) for r in rows] == [
        ("main.fct_orders", "models/marts/core/fct_orders.sql"),
        ("main.stg_orders", "models/staging/stg_orders.sql"),
        ("main.stg_payments", "models/staging/stg_payments.sql"),
        ("raw.orders", None),
        ("raw.payment_events", None),
    ]
    assert await amount_sources(graph) == {"raw.payment_events.amount_cents"}
    before = await quiet(graph, daemon)

    macro = root / "macros" / "cents_to_amount.sql"
    macro.write_text(
        macro.read_text().replace(
            "cast({{ column_name }} as numeric)", "{{ column_name }} * p.fx_rate"
        )
    )
    await wait_for(
        lambda: amount_sources(graph),
        lambda s: s == {"raw.payment_events.amount_cents", "raw.payment_events.fx_rate"},
        timeout=60,
    )
    after = await quiet(graph, daemon)
    rewritten = {p for p in before if after.get(p) != before[p]}
    assert rewritten == {"macros/cents_to_amount.sql", "models/staging/stg_payments.sql"}
