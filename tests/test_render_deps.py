"""What a dbt context file can affect, the per-file render key, and the pipeline
re-queueing exactly those files when a macro or YAML file changes.

Expectations for examples/dbt_shop written from the project's text before running."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from lineaged.config import RootSettings
from lineaged.extract import EXTRACTOR_VERSION
from lineaged.model import (
    Change,
    FileEvent,
    FileLineage,
    FileRef,
    FileState,
    FileUpdate,
    Priority,
)
from lineaged.pipeline import Pipeline, RootContext
from lineaged.worker import extract_task

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dbt_shop"
ALL_NODES = {
    "analyses/orders_per_status.sql",
    "models/marts/core/dim_customers.sql",
    "models/marts/core/fct_orders.sql",
    "models/marts/finance/revenue_daily.sql",
    "models/staging/stg_customers.sql",
    "models/staging/stg_orders.sql",
    "models/staging/stg_payments.sql",
    "seeds/country_codes.csv",
    "snapshots/customers_snapshot.sql",
    "tests/assert_revenue_not_negative.sql",
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "dbt_shop"
    shutil.copytree(EXAMPLE, root)
    return root


def render_of(root: Path):
    return RootContext(RootSettings("d", root, dialect="duckdb")).render


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ("macros/cents_to_amount.sql", {"models/staging/stg_payments.sql"}),
        ("macros/status_filter.sql", {"models/marts/finance/revenue_daily.sql"}),
        (
            "models/staging/_sources.yml",
            {
                "models/staging/stg_customers.sql",
                "models/staging/stg_orders.sql",
                "models/staging/stg_payments.sql",
                "snapshots/customers_snapshot.sql",
            },
        ),
        (
            # configures stg_customers and stg_payments; fct_orders and dim_customers
            # ref them (their relation names come from that config).
            "models/staging/_staging.yml",
            {
                "models/staging/stg_customers.sql",
                "models/staging/stg_payments.sql",
                "models/marts/core/fct_orders.sql",
                "models/marts/core/dim_customers.sql",
            },
        ),
        (
            "models/marts/finance/_finance.yml",
            {"models/marts/finance/revenue_daily.sql", "tests/assert_revenue_not_negative.sql"},
        ),
        ("dbt_project.yml", ALL_NODES),
    ],
)
def test_what_a_context_file_affects(shop: Path, changed: str, expected: set[str]) -> None:
    render = render_of(shop)
    assert render.is_context_file(changed)
    assert set(render.affected_by(render, changed)) == expected


def test_editing_a_macro_changes_only_its_users_render_keys(shop: Path) -> None:
    before = render_of(shop)
    keys = {p: before.cache_key_part(p) for p in ALL_NODES}
    macro = shop / "macros" / "cents_to_amount.sql"
    macro.write_text(macro.read_text().replace("/ 100", "/ 1000"))
    after = before.refreshed()
    changed = {p for p in ALL_NODES if after.cache_key_part(p) != keys[p]}
    assert changed == {"models/staging/stg_payments.sql"}
    assert after.version_suffix("models/staging/stg_payments.sql") != before.version_suffix(
        "models/staging/stg_payments.sql"
    )


def test_a_new_macro_file_counts_for_the_models_that_name_it(shop: Path) -> None:
    before = render_of(shop)
    (shop / "macros" / "to_upper.sql").write_text(
        "{% macro shout(c) %}upper({{ c }}){% endmacro %}"
    )
    model = shop / "models" / "staging" / "stg_orders.sql"
    model.write_text(model.read_text().replace("o.status,", "{{ shout('o.status') }} as status,"))
    after = before.refreshed()
    assert after.affected_by(before, "macros/to_upper.sql") == ["models/staging/stg_orders.sql"]


# -- through the pipeline -----------------------------------------------------------------


class InlinePool:
    async def submit(self, _priority: Priority, *args: Any) -> Any:
        return extract_task(*args)


class GraphWriter:
    """Remembers what it wrote and answers file_states from it, like the graph."""

    def __init__(self) -> None:
        self.files: dict[str, FileUpdate] = {}
        self.batches: list[list[str]] = []

    async def write(self, updates: list[FileUpdate], *, urgent: bool = False) -> None:
        self.batches.append(sorted(u.ref.path for u in updates))
        self.files.update({u.ref.id: u for u in updates})

    async def file_states(self, ids: list[str]) -> dict[str, Any]:
        return {
            i: FileState(self.files[i].sha256, self.files[i].lineage.extractor_version, None)
            for i in ids
            if i in self.files
        }


def event(root: Path, path: str) -> tuple[FileRef, FileEvent]:
    ref = FileRef("d", path)
    return ref, FileEvent(ref, str(root / path), Change.CHANGED, Priority.HIGH)


async def test_a_macro_edit_re_extracts_exactly_its_users(shop: Path) -> None:
    requeued: list[FileEvent] = []
    writer = GraphWriter()
    settings = RootSettings("d", shop, dialect="duckdb", include=("**/*.sql", "**/*.yml"))
    pipeline = Pipeline(
        {"d": RootContext(settings)},
        InlinePool(),
        writer,
        extract_fn_version=EXTRACTOR_VERSION,
        requeue=requeued.append,
    )
    everything = [p.relative_to(shop).as_posix() for p in sorted(shop.rglob("*.sql"))]
    await pipeline.process(dict(event(shop, p) for p in everything))
    assert requeued == []

    macro = shop / "macros" / "cents_to_amount.sql"
    macro.write_text(
        macro.read_text().replace("round(cast(", "round(0.01 * cast(").replace("/ 100", "")
    )
    await pipeline.process(dict([event(shop, "macros/cents_to_amount.sql")]))
    assert [e.ref.path for e in requeued] == ["models/staging/stg_payments.sql"]

    writer.batches.clear()
    await pipeline.process({e.ref: e for e in requeued})
    assert writer.batches == [["models/staging/stg_payments.sql"]]
    lineage: FileLineage = writer.files["d:models/staging/stg_payments.sql"].lineage
    assert lineage.extractor_version.startswith(EXTRACTOR_VERSION + "+r")

    # Re-offering every model now writes nothing: their render keys did not change.
    writer.batches.clear()
    await pipeline.process(dict(event(shop, p) for p in everything))
    assert writer.batches == [[]] or writer.batches == []


def test_a_seed_header_change_affects_the_models_reading_it(shop: Path) -> None:
    before = render_of(shop)
    assert before.is_context_file("seeds/country_codes.csv")
    key = before.cache_key_part("models/staging/stg_customers.sql")
    (shop / "seeds" / "country_codes.csv").write_text(
        "country_code,country_name,region\nDE,Germany,EU\n"
    )
    after = before.refreshed()
    assert after.affected_by(before, "seeds/country_codes.csv") == [
        "models/staging/stg_customers.sql"
    ]
    assert after.cache_key_part("models/staging/stg_customers.sql") != key


def test_a_changed_env_var_value_changes_the_render_key_of_the_project(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # env_var() in a macro: a restart with another value must not be served the
    # cached rendering of the old one (the key holds a digest, never the value).
    monkeypatch.setenv("LINEAGED_TEST_RAW_SCHEMA", "raw_a")
    macro = shop / "macros" / "raw_schema.sql"
    macro.write_text(
        "{% macro raw_schema() %}{{ env_var('LINEAGED_TEST_RAW_SCHEMA', 'raw') }}{% endmacro %}\n"
    )
    path = "models/staging/stg_customers.sql"
    key_a = render_of(shop).cache_key_part(path)
    assert "raw_a" not in key_a
    assert render_of(shop).cache_key_part(path) == key_a
    monkeypatch.setenv("LINEAGED_TEST_RAW_SCHEMA", "raw_b")
    key_b = render_of(shop).cache_key_part(path)
    monkeypatch.delenv("LINEAGED_TEST_RAW_SCHEMA")
    key_unset = render_of(shop).cache_key_part(path)
    assert len({key_a, key_b, key_unset}) == 3
