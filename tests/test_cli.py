"""The command set: --help with examples everywhere, `status` exit codes against a real
HTTP endpoint, the lineage query builder and renderers, the scan progress bar."""

from __future__ import annotations

import socket

import orjson
import pytest

from lineaged.cli import main
from lineaged.cli.lineage import render
from lineaged.cli.scan_report import render_bar
from lineaged.config import Settings
from lineaged.daemon import Daemon
from lineaged.graph.lineage import Edge, build_query, edges_from_records
from lineaged.metrics_http import MetricsServer

COMMANDS = ["run", "scan", "check-config", "extract", "cache", "status", "lineage"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.lower()
    assert "example" in out, f"{command} --help has no examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_status_exits_3_when_no_daemon_answers(capsys) -> None:
    code = main(["status", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2"])
    assert code == 3
    assert "no daemon answering" in capsys.readouterr().err


def test_status_errors_exits_3_with_one_line_when_neo4j_is_unreachable(
    capsys, monkeypatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml
    monkeypatch.delenv("LINEAGED_CONFIG", raising=False)
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEO4J_PASSWORD", "x")
    assert main(["status", "--errors"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("lineaged status: cannot reach Neo4j at bolt://127.0.0.1:")
    assert len(err.strip().splitlines()) == 1


def test_status_reports_state_and_exit_code(capsys) -> None:
    daemon = Daemon(Settings())  # not started: no stages, only its health and metrics
    m = daemon.metrics
    server = MetricsServer(m, "127.0.0.1", 0)
    server.start()
    try:
        m.health.state = "draining"
        assert main(["status", "--url", server.url]) == 1
        assert "draining, UNHEALTHY" in capsys.readouterr().out
        m.health.state, m.health.neo4j_ok = "running", True
        m.health.beat()
        assert main(["status", "--url", server.url, "--json"]) == 0
        doc = orjson.loads(capsys.readouterr().out)
        assert doc["state"] == "running" and doc["healthy"] is True
    finally:
        server.stop()


def test_status_reads_the_address_from_the_config(tmp_path, capsys) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[service]\nmetrics_address = "127.0.0.1:{free_port()}"\n')
    assert main(["status", "-c", str(cfg), "--timeout", "2"]) == 3
    cfg.write_text('[service]\nmetrics_address = "0"\n')
    assert main(["status", "-c", str(cfg)]) == 3
    assert "disabled" in capsys.readouterr().err


def test_lineage_depth_is_validated(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lineage", "upstream", "t", "--depth", "0"])
    assert exc.value.code == 2
    with pytest.raises(ValueError):
        build_query("upstream", 999, column=False)


def test_lineage_queries_use_one_quantified_path_pattern() -> None:
    q = build_query("downstream", 3, column=False)
    assert "{1,3}" in q and "<-[:READS]-(s:Statement)-[:WRITES]->" in q
    q = build_query("upstream", 3, column=True)
    # A statement-wide hop is two relationships (WRITTEN_BY, INFLUENCED_BY).
    assert "{0,4}" in q and "-[:DERIVES_FROM|WRITTEN_BY|INFLUENCED_BY]->" in q


def test_edges_point_along_the_data_flow() -> None:
    rec = {"near": "mart.x", "far": "raw.y", "depth": 1, "files": ["r:a.sql"], "transform": None}
    (up,) = edges_from_records("upstream", [rec])
    assert (up.source, up.target) == ("raw.y", "mart.x")
    (down,) = edges_from_records("downstream", [rec])
    assert (down.source, down.target) == ("mart.x", "raw.y")


def test_renderers_escape_hostile_names() -> None:
    edges = [Edge('raw."q"', "mart.x", 1, ("r:a.sql",), ("DIRECT/IDENTITY",))]
    dot = render("dot", "upstream", "mart.x", edges)
    assert '"raw.\\"q\\"" -> "mart.x" [label="DIRECT/IDENTITY"];' in dot
    mermaid = render("mermaid", "upstream", "mart.x", edges)
    assert 'n1["raw.#quot;q#quot;"] -->|DIRECT/IDENTITY| n0' in mermaid
    doc = orjson.loads(render("json", "upstream", "mart.x", edges))
    assert doc["edges"][0]["source"] == 'raw."q"'
    table = render("table", "upstream", "mart.x", edges)
    assert table.splitlines()[1].split() == ["1", 'raw."q"', "mart.x", "DIRECT/IDENTITY"]
    assert render("table", "upstream", "mart.x", []) == "mart.x: no upstream lineage"


def test_progress_bar() -> None:
    assert render_bar(5, 10, 1.0, width=10) == "[#####.....] 5/10 files  50%  5 files/s"
    assert render_bar(0, 0, 0.0, width=4).startswith("[....] 0/0")
