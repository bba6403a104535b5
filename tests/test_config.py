from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lineaged.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sql").mkdir(exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


BASE = """
[[roots]]
name = "wh"
path = "sql"
dialect = "snowflake"
"""


def test_bundled_config_loads_with_documented_defaults() -> None:
    s = load_settings(REPO / "config.toml", env={})
    assert [r.name for r in s.roots] == ["shop", "finance", "events", "etl", "dbt_shop"]
    assert all(r.path.is_dir() for r in s.roots)
    assert s.batch.debounce_ms == 200.0
    assert s.roots[0].include == ("**/*.sql",)
    assert s.state.dir == REPO / ".lineaged"


def test_relative_root_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, BASE), env={})
    assert s.roots[0].path == (tmp_path / "sql").resolve()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[batch]\ndebounce_mss = 5\n", "unknown key 'batch.debounce_mss'"),
        ("[batch]\nmax_batch = 'ten'\n", "batch.max_batch: expected a number"),
        ("[pool]\nworkers = -1\n", "pool.workers"),
        ("[log]\nlevel = 'loud'\n", "log.level"),
        ("surprise = 1\n", "unknown key 'roots[0].surprise'"),
        ("[neo4j]\nuri = 'http://x'\n", "neo4j.uri"),
        ("target = '{project}.{2}'\n", "roots[0].target: unknown placeholder {project}"),
        ("target = '{1}'\ntarget_pattern = '('\n", "roots[0].target_pattern: invalid regex"),
        ("target_pattern = '(?P<t>.*)'\n", "roots[0].target_pattern: needs a target"),
        ("template = 'mako'\n", "roots[0].template: expected one of"),
        ("vars = 'x'\n", "roots[0].vars: expected a table"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(write(tmp_path, BASE + extra), env={})


def test_template_vars_and_dbt_target(tmp_path: Path) -> None:
    extra = "template = 'jinja'\nvars = { env = 'prod', n = 3 }\ndbt_target = 'prod'\n"
    root = load_settings(write(tmp_path, BASE + extra), env={}).roots[0]
    assert (root.template, root.vars, root.dbt_target) == ("jinja", {"env": "prod", "n": 3}, "prod")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'surprise'"):
        load_settings(write(tmp_path, "surprise = 1\n" + BASE), env={})


def test_unknown_dialect_and_missing_root_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"roots\[0\]\.dialect: unknown dialect 'snowflak'"):
        load_settings(write(tmp_path, BASE.replace("snowflake", "snowflak")), env={})
    with pytest.raises(ConfigError, match=r"roots\[0\]\.path: directory not found"):
        load_settings(write(tmp_path, BASE.replace('"sql"', '"nope"')), env={})
    with pytest.raises(ConfigError, match=r"roots\[1\]\.name: duplicate"):
        load_settings(write(tmp_path, BASE + BASE), env={})


def test_precedence_file_then_env_then_cli(tmp_path: Path) -> None:
    cfg = write(tmp_path, BASE + "[batch]\ndebounce_ms = 100\nmax_batch = 7\n")
    assert load_settings(cfg, env={}).batch.debounce_ms == 100
    env = {"LINEAGED_BATCH_DEBOUNCE_MS": "50", "NEO4J_URI": "bolt://10.0.0.1:7777"}
    s = load_settings(cfg, env=env)
    assert s.batch.debounce_ms == 50
    assert s.batch.max_batch == 7
    assert s.neo4j.uri == "bolt://10.0.0.1:7777"
    s = load_settings(cfg, env=env, overrides={"batch.debounce_ms": 5, "realtime": True})
    assert s.batch.debounce_ms == 5
    assert s.debounce_s == s.batch.realtime_debounce_ms / 1000


def test_env_values_are_type_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"batch\.max_batch"):
        load_settings(write(tmp_path, BASE), env={"LINEAGED_BATCH_MAX_BATCH": "many"})


def test_the_dev_scripts_neo4j_home_is_not_read_as_a_setting(tmp_path: Path) -> None:
    env = {"LINEAGED_NEO4J_HOME": str(tmp_path / "neo4j"), "LINEAGED_BATCH_MAX_BATCH": "9"}
    assert load_settings(write(tmp_path, BASE), env=env).batch.max_batch == 9
    with pytest.raises(ConfigError, match=r"neo4j\.hostname"):
        load_settings(write(tmp_path, BASE), env={"LINEAGED_NEO4J_HOSTNAME": "x"})


def test_password_sources_and_never_in_repr(tmp_path: Path) -> None:
    cfg = write(tmp_path, BASE)
    s = load_settings(cfg, env={"NEO4J_PASSWORD": "s3cret"})
    assert s.neo4j.password == "s3cret"
    assert "s3cret" not in repr(s)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "neo4j-password").write_text("from-systemd\n")
    s = load_settings(cfg, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert s.neo4j.password == "from-systemd"
    pw = tmp_path / "pw"
    pw.write_text("from-file")
    s = load_settings(write(tmp_path, BASE + f"[neo4j]\npassword_file = '{pw}'\n"), env={})
    assert s.neo4j.password == "from-file"


def test_cli_reports_bad_config_in_one_line_without_traceback(tmp_path: Path) -> None:
    cfg = write(tmp_path, BASE + "[batch]\ndebounce = 5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "lineaged.cli", "check-config", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "lineaged: config error: unknown key 'batch.debounce'"


def test_check_config_hides_the_password(tmp_path: Path) -> None:
    cfg = write(tmp_path, BASE)
    proc = subprocess.run(
        [sys.executable, "-m", "lineaged.cli", "check-config", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env={"NEO4J_PASSWORD": "hunter2", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "hunter2" not in proc.stdout
    assert "password=set" in proc.stdout


def _unreadable(tmp_path: Path) -> Path:
    # A path whose open() fails with something other than "not found": a file used as
    # a directory (works as root too, unlike chmod 000).
    (tmp_path / "plain").write_text("")
    return tmp_path / "plain" / "config.toml"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: write(p, BASE).with_name("config.toml"), None),
        (lambda p: p, "is a directory"),
        (_unreadable, "cannot read"),
        (
            lambda p: (p / "bin.toml", (p / "bin.toml").write_bytes(b"\xff\xfe\x00a = 1"))[0],
            "not UTF-8",
        ),
    ],
    ids=["ok", "directory", "unreadable", "binary"],
)
def test_config_files_that_cannot_be_read_are_one_line_errors(
    tmp_path: Path, make, message: str | None
) -> None:
    path = make(tmp_path)
    if message is None:
        assert load_settings(path, env={}).roots[0].name == "wh"
        return
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["directory", "binary", "password"])
def test_cli_config_crashes_are_one_line_and_exit_2(tmp_path: Path, kind: str) -> None:
    if kind == "directory":
        cfg = tmp_path
    elif kind == "binary":
        cfg = tmp_path / "bin.toml"
        cfg.write_bytes(bytes(range(256)))
    else:
        cfg = write(tmp_path, BASE + "[neo4j]\npassword = 'hunter2'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "lineaged.cli", "check-config", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("lineaged: config error: ")
    assert "hunter2" not in proc.stderr + proc.stdout


def test_a_password_in_the_file_is_an_error_saying_where_passwords_go(tmp_path: Path) -> None:
    cfg = write(tmp_path, BASE + "[neo4j]\npassword = 'hunter2'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={"NEO4J_PASSWORD": "other"})
    message = str(info.value)
    assert message.startswith("neo4j.password: ")
    assert "NEO4J_PASSWORD" in message and "neo4j.password_file" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[pool]\nworkers = 1e20\n", "pool.workers: must be"),
        ("[pool]\nworkers = 100000\n", "pool.workers: must be"),
        ("[pool]\ntask_timeout_s = nan\n", "pool.task_timeout_s: expected a finite number"),
        ("[batch]\ndebounce_ms = inf\n", "batch.debounce_ms: expected a finite number"),
        ("[writer]\nmax_concurrent_tx = 1e9\n", "writer.max_concurrent_tx: must be"),
        ("[batch]\nmax_batch = 1e12\n", "batch.max_batch: must be"),
        ("[service]\ndrain_deadline_s = 1e300\n", "service.drain_deadline_s: must be"),
        ("[watch]\nrescan_interval_s = 1e300\n", "watch.rescan_interval_s: must be"),
    ],
)
def test_absurd_numbers_are_rejected(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(write(tmp_path, BASE + extra), env={})
    with pytest.raises(ConfigError, match=re.escape(message.split(":")[0])):
        section, rest = extra.strip("[").split("]\n")
        key, value = rest.strip().split(" = ")
        env = {f"LINEAGED_{section.upper()}_{key.upper()}": value}
        load_settings(write(tmp_path, BASE), env=env)


def test_unreadable_schema_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "schema.yaml").write_text("t:\n  a: !include-field-description x\n")
    cfg = write(tmp_path, BASE + f'schema_file = "{tmp_path / "schema.yaml"}"\n')
    with pytest.raises(ConfigError, match=r"roots\[0\]\.schema_file: .*invalid YAML"):
        load_settings(cfg, env={})


def test_only_realtime_releases_a_complete_save_without_the_window(tmp_path: Path) -> None:
    from lineaged.wiring import live_batcher_options

    cfg = write(tmp_path, BASE)
    assert not live_batcher_options(load_settings(cfg, env={}))["release_when_complete"]
    realtime = load_settings(cfg, env={}, overrides={"realtime": True})
    assert live_batcher_options(realtime)["release_when_complete"]


def test_orphan_sweep_is_one_of_its_two_policies(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, BASE), env={}).writer.orphan_sweep == "when_needed"
    every_start = BASE + '[writer]\norphan_sweep = "every_start"\n'
    every = load_settings(write(tmp_path, every_start), env={})
    assert every.writer.orphan_sweep == "every_start"
    with pytest.raises(ConfigError, match=re.escape("writer.orphan_sweep: expected one of")):
        load_settings(write(tmp_path, BASE + '[writer]\norphan_sweep = "sometimes"\n'), env={})
