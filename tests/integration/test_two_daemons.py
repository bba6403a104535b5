"""Two daemons, one graph (how users scale past one host): disjoint roots whose files
read many of the same tables, ingesting and deleting at the same time. The graph must
end as a single daemon's ingest of both roots, with no orphan Table/Column."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from lineaged.config import load_settings
from lineaged.daemon import Daemon
from lineaged.graph.dump import dump_lines, integrity_problems

from .configs import neo4j_env
from .crash import clear

SHARED_SOURCES, SHARED_DIMS = 12, 4


def _text(rng: random.Random, target: str) -> str:
    cols = ", ".join(f"s.c{k}" for k in range(rng.randint(4, 16)))
    src, dim = rng.randrange(SHARED_SOURCES), rng.randrange(SHARED_DIMS)
    return (
        f"INSERT INTO {target} SELECT {cols}, d.label FROM shared.src{src} s "
        f"JOIN shared.dim{dim} d ON s.k = d.k WHERE d.active = 1 AND s.c0 > {rng.randint(0, 9)}"
    )


def _write(root: Path, name: str, rng: random.Random) -> None:
    path = root / f"{name}.sql"
    path.write_text(_text(rng, f"{root.name}.{name}"))


def _config(tmp: Path, name: str, roots: list[Path]) -> Path:
    cfg = tmp / f"{name}.toml"
    sections = "".join(
        f'[[roots]]\nname = "{r.name}"\npath = "{r}"\ndialect = "postgres"\n\n' for r in roots
    )
    cfg.write_text(
        sections + f'[pool]\nworkers = 1\n\n[state]\ndir = "{tmp / (name + "-state")}"\n'
        "[batch]\nmax_batch = 8\n\n[writer]\nrows_per_tx = 400\nmax_concurrent_tx = 2\n"
        "backoff_initial_s = 0.05\nbackoff_max_s = 0.5\n"
    )
    return cfg


async def _scan(cfg: Path, server: Any) -> Daemon:
    daemon = Daemon(load_settings(cfg, env=neo4j_env(server)), oneshot=True)
    assert await asyncio.wait_for(daemon.run(), 300) == 0
    assert daemon.writer is not None and daemon.writer.stats.dead_letters == 0
    return daemon


async def test_two_daemons_on_one_graph_equal_one_daemon_on_both_roots(
    graph: Any, neo4j_server: Any, tmp_path: Path
) -> None:
    rng = random.Random(7)
    roots = [tmp_path / "east", tmp_path / "west"]
    for root in roots:
        root.mkdir()
        for i in range(50):
            _write(root, f"t{i}", rng)
    cfgs = [_config(tmp_path, root.name, [root]) for root in roots]

    retries: list[int] = []

    async def both() -> None:
        daemons = await asyncio.gather(*(_scan(cfg, neo4j_server) for cfg in cfgs))
        retries.extend(d.writer.stats.retries for d in daemons if d.writer is not None)

    await both()  # both ingest at once
    for root in roots:  # then each deletes, edits and adds while the other does too
        files = sorted(root.glob("*.sql"))
        for path in rng.sample(files, 30):
            path.unlink()
        for path in rng.sample(sorted(root.glob("*.sql")), 8):
            _write(root, path.stem, rng)
        for i in range(50, 60):
            _write(root, f"t{i}", rng)
    await both()
    for path in sorted(roots[0].glob("*.sql")):  # one root emptied while the other edits
        path.unlink()
    for path in rng.sample(sorted(roots[1].glob("*.sql")), 10):
        _write(roots[1], path.stem, rng)
    await both()

    two = await dump_lines(graph)
    assert await integrity_problems(graph) == {}
    print("deadlock/transient retries per daemon and round:", retries)

    await clear(graph)
    await _scan(_config(tmp_path, "single", roots), neo4j_server)
    single = await dump_lines(graph)
    assert two == single
