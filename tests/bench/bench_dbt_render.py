"""Rendering + extraction of dbt models vs extraction of the compiled SQL alone.

Run: .venv/bin/python tests/bench/bench_dbt_render.py [PROJECT_DIR] [--dialect D] [--repeat R]
(default: examples/dbt_shop, duckdb). For every model, snapshot, analysis and test
file of the project, times (a) what a worker does for it: render with the project's
macros (both passes for an incremental model) and extract, and (b) extracting the SQL
that rendering produced (the "compiled SQL"), with the same target. Prints per-file
mean cost of each and the ratio (a)/(b).

Times are this process's CPU time (time.process_time), best of R alternating runs,
after one warm-up pass (a worker renders many files with the same project: the
project load and the macro compilation are paid once per project, not per file).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lineaged.config import RootSettings
from lineaged.extract import extract, warm_up
from lineaged.pipeline import RootContext
from lineaged.render.dbt import render_dbt_file
from lineaged.render.dbt_context import DbtTarget
from lineaged.render.job import extract_file
from lineaged.render.worker_projects import project_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dbt_shop"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", nargs="?", default=str(EXAMPLE))
    parser.add_argument("--dialect", default="duckdb")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(args.project).resolve()
    render = RootContext(RootSettings("b", root, dialect=args.dialect)).render
    assert render.dbt is not None, f"no dbt project at or above {root}"
    project = project_for(render.dbt.project_dir, render.dbt.fingerprint)
    target = DbtTarget(render.dbt.target_name, "", render.dbt.schema, render.dbt.adapter)
    jobs, compiled = [], []
    for node in project.nodes:
        if not node.path.endswith(".sql"):
            continue
        rel = render.root_path(node.path)
        text = (root / rel).read_text()
        job = render.job_for(rel)
        r = render_dbt_file(project, node.path, text, target, {}, render.dbt.fingerprint)
        if r.problem is not None or not r.passes:
            continue
        jobs.append(((root / rel).read_bytes(), job))
        compiled.append((r.passes[0], r.target))
    warm_up()

    def rendered_loop() -> None:
        for data, job in jobs:
            extract_file(data, args.dialect, None, None, None, job)

    def compiled_loop() -> None:
        for sql, tgt in compiled:
            extract(sql, args.dialect, target=tgt)

    rendered_loop()
    compiled_loop()
    best_r = best_c = float("inf")
    for _ in range(args.repeat):
        t = time.process_time()
        rendered_loop()
        best_r = min(best_r, time.process_time() - t)
        t = time.process_time()
        compiled_loop()
        best_c = min(best_c, time.process_time() - t)
    n = len(jobs)
    print(f"project {project.name}: {n} SQL files rendered without error")
    print(f"render + extract : {best_r / n * 1000:7.2f} ms per file")
    print(f"compiled SQL only: {best_c / n * 1000:7.2f} ms per file")
    print(f"ratio            : {best_r / best_c:.2f}x")


if __name__ == "__main__":
    main()
