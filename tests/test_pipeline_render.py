"""The pipeline hands each file's render job (path-target rule) to the pool and keys
the parse cache by it: the same bytes at two paths are two different extractions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lineaged.config import RootSettings
from lineaged.extract import EXTRACTOR_VERSION
from lineaged.graph.rows import EDGE_TARGET, build_rows
from lineaged.model import Change, FileEvent, FileLineage, FileRef, FileUpdate, Priority
from lineaged.pipeline import Pipeline, RootContext
from lineaged.worker import extract_task


class InlinePool:
    async def submit(self, _priority: Priority, *args: Any) -> Any:
        return extract_task(*args)


class RecordingWriter:
    def __init__(self) -> None:
        self.written: list[FileUpdate] = []

    async def write(self, updates: list[FileUpdate], *, urgent: bool = False) -> None:
        self.written.extend(updates)

    async def file_states(self, _ids: list[str]) -> dict[str, Any]:
        return {}


class DictCache:
    def __init__(self) -> None:
        self.store: dict[str, FileLineage] = {}

    async def get_many(self, keys: list[str]) -> dict[str, FileLineage]:
        return {k: self.store[k] for k in keys if k in self.store}

    async def put_many(self, items: list[tuple[str, FileLineage]]) -> None:
        self.store.update(items)


def key(sha: str, dialect: str, context: str, version: str) -> str:
    return "|".join((sha, dialect, context, version))


async def test_same_query_at_two_paths_writes_two_targets(tmp_path: Path) -> None:
    for table in ("orders_v1", "users_v1"):
        (tmp_path / "proj" / "ds" / table).mkdir(parents=True)
        (tmp_path / "proj" / "ds" / table / "query.sql").write_text("SELECT id FROM raw.src")
    settings = RootSettings("r", tmp_path, dialect="bigquery", target="{1}.{2}.{3}")
    writer, cache = RecordingWriter(), DictCache()
    pipeline = Pipeline(
        {"r": RootContext(settings)},
        InlinePool(),
        writer,
        extract_fn_version=EXTRACTOR_VERSION,
        cache=cache,
        cache_key=key,
    )
    paths = ["proj/ds/orders_v1/query.sql", "proj/ds/users_v1/query.sql"]
    batch = {
        FileRef("r", p): FileEvent(FileRef("r", p), str(tmp_path / p), Change.CHANGED)
        for p in paths
    }
    await pipeline.process(batch)
    targets = {u.ref.path: u.lineage.statements[0].targets for u in writer.written}
    assert targets == {paths[0]: ("proj.ds.orders_v1",), paths[1]: ("proj.ds.users_v1",)}
    assert len(cache.store) == 2  # not one entry shared by identical bytes


def test_bare_select_columns_are_not_written_as_graph_columns() -> None:
    from lineaged.extract import extract

    lineage = extract("SELECT a FROM s.t;\nINSERT INTO s.u SELECT b FROM s.t", "postgres")
    assert lineage.statements[0].columns  # reported in the JSON contract ...
    rows = build_rows([FileUpdate(FileRef("r", "x.sql"), "0" * 64, "postgres", lineage)])
    assert set(rows.column_ids()) == {"s.u.b", "s.t.b"}  # ... not in the graph
    assert {rows.column_ids()[t] for t in rows.column_edges[EDGE_TARGET]} == {"s.u.b"}
