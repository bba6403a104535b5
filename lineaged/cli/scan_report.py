"""`lineaged scan` output: a progress bar on a TTY while the backfill runs, then the
first files that carry errors (from the graph, so a warm scan that parsed nothing still
lists them) and one summary line (files, parsed, unchanged, errors, duration) on stdout.
The bar and this run's counts read only the daemon's snapshot."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

import anyio

from lineaged.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from lineaged.daemon import Daemon
    from lineaged.file_errors import FileError
    from lineaged.snapshot import DaemonSnapshot

# Files with errors listed after a scan; `lineaged status --errors` lists them all.
LISTED = 10
_FILES_IN_ROOTS = "MATCH (f:File) WHERE f.root IN $roots RETURN count(f) AS n"


class ScanReport:
    def __init__(
        self, daemon: Daemon, *, show_bar: bool, out: TextIO | None = None, every_s: float = 0.2
    ) -> None:
        self._d = daemon
        self._show_bar = show_bar
        self._out = out or sys.stdout
        self._bar_out = sys.stderr
        self._every_s = every_s

    async def run(self) -> int:
        started = time.monotonic()
        code = 0
        async with anyio.create_task_group() as tg:
            if self._show_bar:
                tg.start_soon(self._bar)
            try:
                code = await self._d.run()
            finally:
                tg.cancel_scope.cancel()
                if self._show_bar:
                    self._bar_out.write("\r\x1b[K")
                    self._bar_out.flush()
        summary = Summary.of(self._d.snapshot(), time.monotonic() - started)
        graph = await self._from_graph() if code == 0 else None
        if graph is not None:
            # The graph's counts: after a scan it holds exactly the roots' current files,
            # so a warm scan that read nothing still counts them, and those with errors.
            files, listed = graph
            summary = replace(
                summary,
                files=files,
                unchanged=max(summary.unchanged, files - summary.parsed - summary.cached),
                errors=len(listed),
            )
            for e in listed[:LISTED]:
                print(f"  {e.line()}", file=self._out)
            if len(listed) > LISTED:
                more = len(listed) - LISTED
                print(f"  ... {more} more: lineaged status --errors", file=self._out)
        print(summary.line(), file=self._out)
        if code != 0:
            return code
        return ExitCode.PROBLEMS if summary.errors or summary.dead_letters else ExitCode.OK

    async def _from_graph(self) -> tuple[int, list[FileError]] | None:
        """(files of this config's roots, those whose lineage carries an error), or
        None when the graph cannot say (the summary then keeps this run's counts)."""
        from lineaged.file_errors import files_with_errors
        from lineaged.graph.connect import connected

        settings = self._d.settings
        roots = {r.name for r in settings.roots}
        try:
            async with connected(settings.neo4j, wait_s=0) as driver:
                db = settings.neo4j.database
                found = await files_with_errors(driver, db)
                records, _, _ = await driver.execute_query(
                    _FILES_IN_ROOTS, {"roots": sorted(roots)}, database_=db, routing_="r"
                )
        except Exception:  # the scan itself succeeded; a listing is not worth failing it
            return None
        return records[0]["n"], [e for e in found if e.file.split(":", 1)[0] in roots]

    async def _bar(self) -> None:
        started = time.monotonic()
        while True:
            await anyio.sleep(self._every_s)
            snap = self._d.snapshot()
            if snap.pipeline is None:
                continue
            done = snap.pipeline.files_seen
            total = max(snap.backfill.stats.events_in, done)
            self._bar_out.write("\r" + render_bar(done, total, time.monotonic() - started))
            self._bar_out.flush()


@dataclass(frozen=True)
class Summary:
    files: int
    parsed: int
    cached: int
    unchanged: int
    deleted: int
    errors: int
    dead_letters: int
    duration_s: float

    @classmethod
    def of(cls, snap: DaemonSnapshot, duration_s: float) -> Summary:
        st = snap.pipeline
        return cls(
            files=st.files_seen if st else 0,
            parsed=st.parsed if st else 0,
            cached=st.cache_hits if st else 0,
            unchanged=st.unchanged if st else 0,
            deleted=st.deleted if st else 0,
            errors=st.errors if st else 0,
            dead_letters=snap.writer.stats.dead_letters if snap.writer else 0,
            duration_s=duration_s,
        )

    def line(self) -> str:
        return (
            f"scan: {self.files} files, {self.parsed} parsed, {self.cached} from cache, "
            f"{self.unchanged} unchanged, {self.deleted} deleted, {self.errors} with errors, "
            f"{self.dead_letters} dead-lettered in {self.duration_s:.1f} s"
        )


def render_bar(done: int, total: int, elapsed_s: float, width: int = 30) -> str:
    fraction = done / total if total else 0.0
    filled = int(width * min(1.0, fraction))
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files "
        f"{fraction:4.0%}  {rate:.0f} files/s"
    )
