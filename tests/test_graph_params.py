"""The writer's `$p` map: the same bytes on the wire as a plain dict, and a repr that
does not grow with the rows (the driver formats every RUN's parameters eagerly)."""

from __future__ import annotations

import sys
from pathlib import Path

from neo4j._codec.packstream.v1 import PackableBuffer, Packer

sys.path.insert(0, str(Path(__file__).parent))
from fake_neo4j import FakeNeo4j

from lineaged.deadletters import DeadLetters
from lineaged.graph.params import QuietParams, p_param
from lineaged.graph.rows import build_rows
from lineaged.graph.writer import GraphWriter
from lineaged.model import ColumnEdge, FileLineage, FileRef, FileUpdate, StatementLineage


def _update(i: int) -> FileUpdate:
    lineage = FileLineage(
        "postgres",
        f"t{i}",
        (
            StatementLineage(
                0,
                1,
                "insert",
                (f"mart.t{i}",),
                ("raw.s",),
                tuple(
                    ColumnEdge(f"mart.t{i}.c{j}", (f"raw.s.c{j}",), "DIRECT/IDENTITY")
                    for j in range(20)
                ),
                target_columns=tuple(f"mart.t{i}.c{j}" for j in range(20)),
            ),
        ),
    )
    return FileUpdate(FileRef("r", f"f{i}.sql"), f"s{i}", "postgres", lineage)


def _packed(value: object) -> bytes:
    buffer = PackableBuffer()
    Packer(buffer)._pack(value)
    return bytes(buffer.data)


def test_the_quiet_map_packs_to_the_bytes_of_a_plain_dict() -> None:
    params = build_rows([_update(i) for i in range(30)]).write_new_params()
    assert _packed(p_param(params)) == _packed({"p": dict(params)})


def test_its_repr_is_a_summary_whatever_the_rows() -> None:
    small = repr(p_param(build_rows([_update(0)]).write_new_params()))
    large = repr(p_param(build_rows([_update(i) for i in range(500)]).write_new_params()))
    assert "mart.t" not in large  # no row is printed
    assert len(large) < 200
    assert len(large) - len(small) < 20  # only the counts grow
    assert "files: 500" in large and "statements: 500" in large


async def test_every_write_statement_sends_the_quiet_map(tmp_path: Path) -> None:
    neo4j = FakeNeo4j()
    writer = GraphWriter(
        neo4j,  # type: ignore[arg-type]
        "neo4j",
        DeadLetters(tmp_path / "dead.jsonl"),
        rows_per_tx=200,
    )
    updates = [_update(i) for i in range(20)]
    await writer.write(updates[:10])  # backfill: several explicit transactions
    await writer.write(updates[10:], urgent=True)  # live: one auto-commit statement
    assert len(neo4j.runs) > 3
    assert set(neo4j.kinds) == {"tx", "auto"}
    for _, params in neo4j.runs:
        assert isinstance(params["p"], QuietParams)
        assert len(repr(params)) < 300
