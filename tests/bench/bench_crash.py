"""The crash test, longer (tests/integration/test_crash.py runs 3 kills on 120 files):
SIGKILL a real daemon at random moments while files change, restart, and compare the
graph with a clean ingest of the final tree; the integrity queries must find nothing,
and no worker, forkserver or resource tracker may outlive a killed daemon by 30 s.

    .venv/bin/python tests/bench/bench_crash.py [--files 1000] [--kills 20] [--seed N]

Starts its own throw-away Neo4j (scripts/neo4j_local.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from neo4j import AsyncGraphDatabase

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lineaged.graph.schema import ensure_schema
from tests.integration.conftest import Neo4jServer, load_neo4j_local
from tests.integration.crash import crash_rounds


async def main(files: int, kills: int, seed: int, work: Path, server: Neo4jServer) -> None:
    driver = AsyncGraphDatabase.driver(
        server.uri, auth=server.auth, notifications_min_severity="OFF"
    )
    try:
        await ensure_schema(driver, "neo4j")
        report = await crash_rounds(driver, server, work, files=files, kills=kills, seed=seed)
    finally:
        await driver.close()
    print(report, *report.rounds, sep="\n  ")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = parser.parse_args()
    nl = load_neo4j_local()
    work = Path(tempfile.mkdtemp(prefix="bench-crash-"))
    name = f"bench-crash-{os.getpid()}"
    try:
        inst = nl.start(name, work / "neo4j", "1g", owner_pid=os.getpid())
        server = Neo4jServer(inst.uri, inst.user, inst.password)
        asyncio.run(main(args.files, args.kills, args.seed, work, server))
    finally:
        nl.stop(name, work / "neo4j")
        shutil.rmtree(work, ignore_errors=True)
