"""A process that runs a PriorityPool and waits to be killed (for test_pool's kill -9
test): prints its own pid and its workers' pids, then sleeps."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lineaged.model import Priority
from lineaged.pool import PriorityPool


async def main(start_method: str) -> None:
    import pool_tasks

    pool = PriorityPool(
        pool_tasks.dispatch, workers=2, start_method=start_method, preload=("pool_tasks",)
    )
    await pool.start()
    busy = asyncio.ensure_future(pool.submit(Priority.HIGH, "hang", 1))  # one in a task
    await asyncio.sleep(0.5)
    print(os.getpid(), *pool.worker_pids(), flush=True)
    await busy


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
