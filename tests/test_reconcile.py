"""The warm-restart comparison (reconcile.plan_root with the stat cache's vouch): a file is
skipped without reading only when its stat is exactly the one recorded with a hash the
graph holds current. Every way a file can differ must make it stale."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from lineaged.cache import RACY_WINDOW_NS, ParseCache, StatEntry
from lineaged.config import RootSettings
from lineaged.model import Change, GraphFile
from lineaged.paths import RootMatcher
from lineaged.reconcile import StatKey, plan_root, settled, vouched

VERSION = "9.9.9"
LATER = 10 * RACY_WINDOW_NS


@pytest.fixture
async def cache(tmp_path: Path):
    cache = await ParseCache.open(tmp_path / "cache.sqlite")
    yield cache
    await cache.close()


class Tree:
    """A root on disk, the stat cache's entries for it and the graph's File states."""

    def __init__(self, tmp_path: Path, cache: ParseCache) -> None:
        self.root = tmp_path / "root"
        self.root.mkdir()
        self.cache = cache
        self.graph: dict[str, GraphFile] = {}
        self.schema_current: Callable[[str, str], bool] | None = None

    async def ingested(self, rel: str, text: str = "select 1", sha: str | None = None) -> Path:
        """Write `rel` and record it as the daemon does after a (settled) ingest."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        sha = sha or f"sha-of-{text}"
        st = os.stat(path)
        entry = StatEntry.from_stat(st, sha, checked_ns=st.st_mtime_ns + LATER)
        await self.cache.stat_cache.put_many("r", {rel: entry})
        self.graph[rel] = (sha, VERSION, None)
        return path

    async def plan(self):
        async def graph_files(_root: str) -> dict[str, GraphFile]:
            return dict(self.graph)

        async def vouch(known: dict[str, GraphFile]) -> dict[str, StatKey]:
            rows = await self.cache.stat_cache.trusted("r")
            return vouched(known, rows, lambda _rel: VERSION, self.schema_current)

        plan = await plan_root(RootMatcher(RootSettings("r", self.root)), graph_files, vouch)
        return plan, {e.ref.path: e.change for e in plan.events}


@pytest.fixture
async def tree(tmp_path: Path, cache: ParseCache) -> Tree:
    return Tree(tmp_path, cache)


async def test_an_untouched_tree_is_all_current(tree: Tree) -> None:
    await tree.ingested("a.sql")
    await tree.ingested("d/b.sql", "select 2")
    plan, events = await tree.plan()
    assert events == {}
    assert (plan.on_disk, plan.in_graph, plan.current) == (2, 2, 2)


async def test_a_changed_size_with_the_same_mtime_is_stale(tree: Tree) -> None:
    path = await tree.ingested("a.sql")
    mtime = path.stat().st_mtime_ns
    path.write_text("select 12")
    os.utime(path, ns=(mtime, mtime))
    assert (await tree.plan())[1] == {"a.sql": Change.CHANGED}


async def test_a_changed_mtime_with_the_same_size_is_stale(tree: Tree) -> None:
    path = await tree.ingested("a.sql")
    st = path.stat()
    path.write_text("select 2")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert (await tree.plan())[1] == {"a.sql": Change.CHANGED}


async def test_a_replaced_file_with_the_same_size_and_mtime_is_stale(tree: Tree) -> None:
    path = await tree.ingested("a.sql")
    st = path.stat()
    os.link(path, tree.root.parent / "keep-old-inode")  # the new file cannot reuse it
    replacement = tree.root / "tmp.sqltmp"
    replacement.write_text("select 2")  # an editor's atomic save
    os.utime(replacement, ns=(st.st_mtime_ns, st.st_mtime_ns))
    os.replace(replacement, path)
    assert (await tree.plan())[1] == {"a.sql": Change.CHANGED}


async def test_a_new_file_is_stale_and_a_deleted_one_is_deleted(tree: Tree) -> None:
    await tree.ingested("keep.sql")
    gone = await tree.ingested("gone.sql")
    gone.unlink()
    (tree.root / "new.sql").write_text("select 3")
    plan, events = await tree.plan()
    assert events == {"new.sql": Change.CHANGED, "gone.sql": Change.DELETED}
    assert (plan.on_disk, plan.in_graph, plan.current, plan.deleted) == (2, 2, 1, 1)


async def test_a_racily_clean_entry_is_not_trusted(tree: Tree) -> None:
    path = await tree.ingested("a.sql")
    st = path.stat()
    racy = StatEntry.from_stat(
        st, "sha-of-select 1", checked_ns=st.st_mtime_ns + RACY_WINDOW_NS - 1
    )
    await tree.cache.stat_cache.put_many("r", {"a.sql": racy})
    assert (await tree.plan())[1] == {"a.sql": Change.CHANGED}
    settled = StatEntry.from_stat(st, "sha-of-select 1", checked_ns=st.st_mtime_ns + RACY_WINDOW_NS)
    await tree.cache.stat_cache.put_many("r", {"a.sql": settled})
    assert (await tree.plan())[1] == {}


async def test_no_stat_entry_means_reading_the_file(tree: Tree) -> None:
    await tree.ingested("a.sql")
    await tree.cache.stat_cache.delete_many("r", ["a.sql"])
    assert (await tree.plan())[1] == {"a.sql": Change.CHANGED}


async def test_the_graph_must_hold_that_hash_from_this_version(tree: Tree) -> None:
    await tree.ingested("other_hash.sql")
    await tree.ingested("old_version.sql")
    await tree.ingested("other_model.sql")
    await tree.ingested("refused.sql")
    tree.graph["other_hash.sql"] = ("something else", VERSION, None)
    tree.graph["old_version.sql"] = ("sha-of-select 1", "0.0.1", None)
    tree.graph["other_model.sql"] = ("sha-of-select 1", None, None)
    # Refused content stays put until edited (FileState.is_current), whatever the version.
    tree.graph["refused.sql"] = (None, None, "sha-of-select 1")
    assert (await tree.plan())[1] == {
        "other_hash.sql": Change.CHANGED,
        "old_version.sql": Change.CHANGED,
        "other_model.sql": Change.CHANGED,
    }


async def test_a_result_the_schema_catalog_made_stale_is_redone(tree: Tree) -> None:
    await tree.ingested("a.sql")
    await tree.ingested("b.sql", "select 2")
    asked: list[tuple[str, str]] = []

    def schema_current(rel: str, sha: str) -> bool:
        asked.append((rel, sha))
        return rel != "b.sql"

    tree.schema_current = schema_current
    assert (await tree.plan())[1] == {"b.sql": Change.CHANGED}
    assert sorted(asked) == [("a.sql", "sha-of-select 1"), ("b.sql", "sha-of-select 2")]


def test_vouched_is_the_file_state_rule() -> None:
    """`vouched` and FileState.is_current decide alike on every combination."""
    from itertools import product

    from lineaged.model import FileState

    shas, versions = ("h1", "h2", None), ("v", "w", None)
    # The version per file, or one for the whole root (a root that renders nothing).
    for (sha, version, failed), disk_sha, ok, version_of in product(
        product(shas, versions, shas), ("h1", "h2"), (True, False), (lambda _: "v", "v")
    ):
        got = vouched(
            {"p": (sha, version, failed)},
            [("p", 1, 2, 3, disk_sha)],
            version_of,
            lambda _p, _s, ok=ok: ok,
        )
        want = FileState(sha, version, failed).is_current(
            disk_sha, "v", schema_current=lambda ok=ok: ok
        )
        assert (got == {"p": (1, 2, 3)}) is want, (sha, version, failed, disk_sha, ok)


async def test_after_a_lost_graph_the_files_the_catalog_holds_are_settled(tree: Tree) -> None:
    """Every file is stale when the graph is lost; those whose stat the stat cache
    recorded with a hash the catalog's record is current for need no ordering
    (stage.order_events). An edit since, or a record the catalog does not hold
    current, leaves a file to be ordered."""
    await tree.ingested("a.sql")
    await tree.ingested("b.sql", "select 2")
    await tree.ingested("c.sql", "select 3")
    edited = await tree.ingested("d.sql", "select 4")
    edited.write_text("select 44")
    (tree.root / "new.sql").write_text("select 5")
    tree.graph = {}
    plan, events = await tree.plan()
    assert set(events) == {"a.sql", "b.sql", "c.sql", "d.sql", "new.sql"}
    assert set(plan.stale_stats) == set(events)
    rows = await tree.cache.stat_cache.trusted("r")
    records = {"a.sql": "sha-of-select 1", "b.sql": "sha-of-select 2", "d.sql": "sha-of-select 4"}
    known = settled(plan.stale_stats, rows, lambda rel, sha: records.get(rel) == sha)
    assert known == {"a.sql", "b.sql"}  # c: no current record; d: edited; new: no entry
