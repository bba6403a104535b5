"""The pipeline with fake neighbours: a pool that extracts in-process, a writer that
records what it is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from lineaged.config import RootSettings
from lineaged.extract import EXTRACTOR_VERSION, extract
from lineaged.model import Change, FileEvent, FileRef, FileUpdate, Priority
from lineaged.pipeline import Pipeline, RootContext


class InlinePool:
    async def submit(self, _priority: Priority, data: bytes, dialect: str, *_: Any) -> Any:
        return extract(data, dialect)


class RecordingWriter:
    def __init__(self) -> None:
        self.written: list[FileUpdate] = []
        self.urgent: list[bool] = []

    async def write(self, updates: list[FileUpdate], *, urgent: bool = False) -> None:
        self.written.extend(updates)
        self.urgent.append(urgent)

    async def file_states(self, _ids: list[str]) -> dict[str, Any]:
        return {}


def make_pipeline(root: Path, writer: RecordingWriter) -> Pipeline:
    return Pipeline(
        {"r": RootContext(RootSettings("r", root))},
        InlinePool(),
        writer,
        extract_fn_version=EXTRACTOR_VERSION,
    )


async def test_files_with_errors_are_logged_once_each_with_path_and_sha(tmp_path: Path) -> None:
    (tmp_path / "good.sql").write_text("INSERT INTO a SELECT b FROM c")
    (tmp_path / "bad.sql").write_text("INSERT INTO a SELECT b FROM c;\nSELECT FROM (;")
    writer = RecordingWriter()
    pipeline = make_pipeline(tmp_path, writer)
    batch = {
        FileRef("r", n): FileEvent(FileRef("r", n), str(tmp_path / n), Change.CHANGED)
        for n in ("good.sql", "bad.sql", "gone.sql")
    }
    with structlog.testing.capture_logs() as logs:
        await pipeline.process(batch)
    errors = [e for e in logs if e["event"] == "file_has_errors"]
    assert [e["file"] for e in errors] == ["r:bad.sql"]
    assert errors[0]["sha256"] and errors[0]["error"].startswith("line 2")
    assert pipeline.stats.errors == 1
    by_path = {u.ref.path: u for u in writer.written}
    assert by_path["gone.sql"].deleted  # vanished between event and read
    assert by_path["bad.sql"].lineage is not None
    assert by_path["bad.sql"].lineage.statements[0].targets == ("a",)
    assert any(e["event"] == "batch_written" for e in logs)


async def test_live_batches_ask_for_the_urgent_write_lane(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("INSERT INTO a SELECT b FROM c")
    writer = RecordingWriter()
    pipeline = make_pipeline(tmp_path, writer)
    ref = FileRef("r", "a.sql")
    path = str(tmp_path / "a.sql")
    await pipeline.process({ref: FileEvent(ref, path, Change.CHANGED, Priority.LOW)})
    await pipeline.process({ref: FileEvent(ref, path, Change.CHANGED, Priority.HIGH)})
    assert writer.urgent == [False, True]
