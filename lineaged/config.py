"""One Settings object: config.toml < LINEAGED_* environment < CLI flags, validated.

Every error is a `ConfigError` whose message names the offending key, so the CLI can
print one line and exit non-zero instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineaged.dialect_names import SQLGLOT_DIALECTS

KNOWN_DIALECTS = SQLGLOT_DIALECTS


class ConfigError(ValueError):
    """A configuration problem, with a message fit for one log line."""


@dataclass(frozen=True)
class RootSettings:
    name: str
    path: Path
    dialect: str = "postgres"
    include: tuple[str, ...] = ("**/*.sql",)
    exclude: tuple[str, ...] = ()
    default_catalog: str = ""
    default_schema: str = ""
    schema_file: str = ""
    critical: tuple[str, ...] = ()  # globs served before live edits (Priority.CRITICAL)
    follow_symlinks: bool = False  # follow links whose target lies outside the root
    # Path-target rule: the table a file's final bare SELECT writes, from its path
    # (lineaged/render/path_target.py): "{1}.{2}.{3}" over path segments, or named
    # groups of target_pattern (a regex over the relative path).
    target: str = ""
    target_pattern: str = ""
    # Templates (lineaged/render/): "" = plain SQL, or dbt when dbt_project.yml is at or
    # above the root; "dbt"; "jinja" (generic, names from `vars`); "none" (never render).
    template: str = ""
    vars: dict[str, Any] = field(default_factory=dict)  # var() / Jinja names
    dbt_target: str = "dev"  # dbt's target.name (default_catalog/default_schema: the rest)


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    database: str = "neo4j"
    # The password itself never lives in config.toml: it comes from NEO4J_PASSWORD /
    # LINEAGED_NEO4J_PASSWORD, from password_file, or from systemd's credential directory.
    password_file: str = ""
    password: str = field(default="", repr=False)
    connect_timeout_s: float = 60.0


@dataclass(frozen=True)
class BatchSettings:
    debounce_ms: float = 200.0
    realtime_debounce_ms: float = 2.0
    max_batch: int = 500
    max_latency_ms: float = 2000.0
    # Batches processed at once. Files are read when a batch leaves its batcher, so
    # (live_lanes + backfill_lanes) x max_batch bounds the file contents held in memory.
    live_lanes: int = 4
    backfill_lanes: int = 2


@dataclass(frozen=True)
class PoolSettings:
    workers: int = 0  # 0 = one per core
    task_timeout_s: float = 60.0
    recycle_after: int = 2000  # replace the worker processes after this many files
    memory_limit_mb: float = 0.0  # pause dispatch while daemon + workers RSS is above; 0 = off
    start_timeout_s: float = 120.0  # workers must have started and imported within this
    worker_nice: int = 0  # workers' CPU niceness above the daemon's (its loop goes first)


@dataclass(frozen=True)
class WatchSettings:
    rescan_interval_s: float = 600.0  # stat-only rescan of every root as a backstop; 0 = off


@dataclass(frozen=True)
class StateSettings:
    dir: Path = Path(".lineaged")


@dataclass(frozen=True)
class WriterSettings:
    rows_per_tx: int = 5_000  # UNWIND rows per write transaction (files never split)
    backfill_tx_ms: float = 100.0  # backfill tx sized to take about this, yield <= this; 0 = off
    max_concurrent_tx: int = 2  # write transactions in flight at once
    slow_tx_s: float = 5.0  # a transaction slower than this logs a WARNING
    backoff_initial_s: float = 0.2  # first wait after a transient error (doubles, jittered)
    backoff_max_s: float = 10.0  # cap of that wait; retries never give up
    # Start-up orphan sweep: "when_needed" skips it when the graph is as this daemon's
    # last clean stop left it (orphan_policy.py); "every_start" always runs it.
    orphan_sweep: str = "when_needed"


@dataclass(frozen=True)
class ServiceSettings:
    drain_deadline_s: float = 30.0  # SIGTERM/SIGINT: finish in-flight work within this
    metrics_address: str = "127.0.0.1:9464"  # /metrics and /healthz; "" or "0" = off
    health_stale_s: float = 10.0  # /healthz fails when the loop is silent this long
    status_interval_s: float = 5.0  # how often STATUS= goes to systemd
    neo4j_check_interval_s: float = 5.0  # how often /healthz's Neo4j reachability is checked


@dataclass(frozen=True)
class CacheSettings:
    enabled: bool = True  # the parse + stat cache in <state.dir>/cache.sqlite
    max_entries: int = 200_000  # parse results kept (least recently used go first)
    max_mb: float = 512.0  # bound on stored bytes
    ttl_days: float = 30.0  # entries unused this long are dropped


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    format: str = "auto"  # auto | json | console


@dataclass(frozen=True)
class Settings:
    roots: tuple[RootSettings, ...] = ()
    neo4j: Neo4jSettings = field(default_factory=Neo4jSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    watch: WatchSettings = field(default_factory=WatchSettings)
    state: StateSettings = field(default_factory=StateSettings)
    writer: WriterSettings = field(default_factory=WriterSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    log: LogSettings = field(default_factory=LogSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    realtime: bool = False

    @property
    def debounce_s(self) -> float:
        ms = self.batch.realtime_debounce_ms if self.realtime else self.batch.debounce_ms
        return ms / 1000.0


_PASSWORD_NOT_HERE = (
    "neo4j.password: passwords are not read from config files; set NEO4J_PASSWORD or "
    "LINEAGED_NEO4J_PASSWORD, point neo4j.password_file at a file, or use systemd's "
    "LoadCredential=neo4j-password"
)
_LOG_LEVELS = {"debug", "info", "warning", "error"}
# Upper bounds: far above any real use, low enough that a typo (1e20, an extra few
# zeros) is caught by check-config instead of forking without end or overflowing a
# timer. Durations in seconds are bounded by _MAX_SECONDS.
_MAX_SECONDS = 7 * 24 * 3600.0
_UPPER_BOUNDS = {
    "pool.workers": 256,
    "pool.recycle_after": 1_000_000_000,
    "pool.memory_limit_mb": 64 * 1024 * 1024,
    "batch.max_batch": 100_000,
    "batch.debounce_ms": _MAX_SECONDS * 1000,
    "batch.realtime_debounce_ms": _MAX_SECONDS * 1000,
    "batch.max_latency_ms": _MAX_SECONDS * 1000,
    "writer.rows_per_tx": 10_000_000,
    "writer.backfill_tx_ms": _MAX_SECONDS * 1000,
    "writer.max_concurrent_tx": 64,
    "cache.max_entries": 1_000_000_000,
    "cache.max_mb": 64 * 1024 * 1024,
    "cache.ttl_days": 36_500,
}
_LOG_FORMATS = {"auto", "json", "console"}
_ORPHAN_SWEEPS = {"when_needed", "every_start"}


def load_settings(
    config_path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate Settings. `overrides` are dotted keys from CLI flags."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    if config_path is not None:
        raw = _read_toml(config_path)
        base_dir = config_path.resolve().parent
    for key, value in _env_overrides(env).items():
        _set_dotted(raw, key, value)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, key, value)
    settings = _build_settings(raw, base_dir)
    settings = _with_password(settings, env)
    _validate(settings)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); not a config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None


# LINEAGED_<SECTION>_<KEY>, e.g. LINEAGED_BATCH_DEBOUNCE_MS=50. The conventional
# NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD are honoured too (the dev scripts print them).
_SECTIONS = ("neo4j", "batch", "pool", "watch", "state", "log", "service", "writer", "cache")
# Variables in the LINEAGED_ namespace that are not settings: scripts/neo4j_local.py's
# install directory would otherwise read as the unknown setting neo4j.home.
_NOT_SETTINGS = frozenset({"LINEAGED_NEO4J_HOME"})


def _env_overrides(env: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for short in ("uri", "user", "database"):
        if value := env.get(f"NEO4J_{short.upper()}"):
            out[f"neo4j.{short}"] = value
    for name, value in env.items():
        if not name.startswith("LINEAGED_") or name in _NOT_SETTINGS:
            continue
        rest = name[len("LINEAGED_") :].lower()
        for section in _SECTIONS:
            if rest.startswith(section + "_"):
                key = rest[len(section) + 1 :]
                if section == "neo4j" and key == "password":
                    break  # handled by _with_password, never stored in raw config
                out[f"{section}.{key}"] = value
                break
    return out


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _build_settings(raw: dict[str, Any], base_dir: Path) -> Settings:
    raw = dict(raw)
    roots_raw = raw.pop("roots", [])
    realtime = raw.pop("realtime", False)
    if not isinstance(roots_raw, list):
        raise ConfigError("roots: expected an array of tables ([[roots]])")
    roots = tuple(_build_root(item, i, base_dir) for i, item in enumerate(roots_raw))
    neo4j = raw.get("neo4j")
    if isinstance(neo4j, dict) and "password" in neo4j:
        raise ConfigError(_PASSWORD_NOT_HERE)
    sections: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name in ("roots", "realtime"):
            continue
        value = raw.pop(f.name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{f.name}: expected a table")
        sections[f.name] = _build_dataclass(_section_type(f.name), value, f.name)
    if raw:
        raise ConfigError(f"unknown key '{sorted(raw)[0]}'")
    settings = Settings(roots=roots, realtime=_coerce(realtime, bool, "realtime"), **sections)
    state_dir = settings.state.dir
    if not state_dir.is_absolute():
        settings = dataclasses.replace(
            settings, state=dataclasses.replace(settings.state, dir=base_dir / state_dir)
        )
    return settings


def _section_type(name: str) -> type:
    return typing.get_type_hints(Settings)[name]


def _build_root(item: Any, index: int, base_dir: Path) -> RootSettings:
    where = f"roots[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a table")
    for required in ("name", "path"):
        if required not in item:
            raise ConfigError(f"{where}.{required}: missing")
    root = _build_dataclass(RootSettings, item, where)
    path = root.path if root.path.is_absolute() else (base_dir / root.path)
    return dataclasses.replace(root, path=path.resolve())


def _build_dataclass(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown key '{where}.{unknown[0]}'")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def _coerce(value: Any, typ: Any, key: str) -> Any:
    """Accept TOML values and strings from the environment; reject anything else."""
    origin = typing.get_origin(typ)
    if origin in (types.UnionType, typing.Union):
        typ = next(t for t in typing.get_args(typ) if t is not type(None))
        origin = typing.get_origin(typ)
    if typ is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f'{key}: expected a table, e.g. {{ name = "value" }}')
        return dict(value)
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings")
        return tuple(value)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if typ in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(value, str):
            try:
                value = typ(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if typ is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return typ(value)
    if typ is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{key}: expected a path string, got {value!r}")
        return Path(value).expanduser()
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported setting type")  # pragma: no cover


def _with_password(settings: Settings, env: Mapping[str, str]) -> Settings:
    password = _find_password(settings.neo4j, env)
    return dataclasses.replace(
        settings, neo4j=dataclasses.replace(settings.neo4j, password=password)
    )


def _find_password(neo4j: Neo4jSettings, env: Mapping[str, str]) -> str:
    for name in ("LINEAGED_NEO4J_PASSWORD", "NEO4J_PASSWORD"):
        if value := env.get(name):
            return value
    candidates = []
    if neo4j.password_file:
        candidates.append(Path(neo4j.password_file).expanduser())
    # systemd LoadCredential=neo4j-password:... lands here.
    if cred_dir := env.get("CREDENTIALS_DIRECTORY"):
        candidates.append(Path(cred_dir) / "neo4j-password")
    for path in candidates:
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"neo4j.password_file: cannot read {path}: {exc.strerror}") from None
    return ""


def _validate(settings: Settings) -> None:
    _validate_upper_bounds(settings)
    names: set[str] = set()
    for i, root in enumerate(settings.roots):
        where = f"roots[{i}]"
        if not root.name or ":" in root.name:
            raise ConfigError(f"{where}.name: must be non-empty and contain no ':'")
        if root.name in names:
            raise ConfigError(f"{where}.name: duplicate root name '{root.name}'")
        names.add(root.name)
        if not root.path.is_dir():
            raise ConfigError(f"{where}.path: directory not found: {root.path}")
        if root.dialect not in KNOWN_DIALECTS:
            raise ConfigError(f"{where}.dialect: unknown dialect '{root.dialect}'")
        if root.schema_file and not Path(root.schema_file).is_file():
            raise ConfigError(f"{where}.schema_file: file not found: {root.schema_file}")
        if root.schema_file:
            _check_schema_file(where, root.schema_file)
        _validate_render(root, where)
    if settings.log.level.lower() not in _LOG_LEVELS:
        raise ConfigError(f"log.level: expected one of {sorted(_LOG_LEVELS)}")
    if settings.log.format not in _LOG_FORMATS:
        raise ConfigError(f"log.format: expected one of {sorted(_LOG_FORMATS)}")
    if settings.writer.orphan_sweep not in _ORPHAN_SWEEPS:
        raise ConfigError(f"writer.orphan_sweep: expected one of {sorted(_ORPHAN_SWEEPS)}")
    b = settings.batch
    if b.debounce_ms < 0 or b.realtime_debounce_ms < 0 or b.max_latency_ms <= 0:
        raise ConfigError("batch: debounce must be >= 0 and max_latency_ms > 0")
    if b.max_batch < 1:
        raise ConfigError("batch.max_batch: must be >= 1")
    if b.live_lanes < 1 or b.backfill_lanes < 1:
        raise ConfigError("batch: live_lanes and backfill_lanes must be >= 1")
    if settings.pool.workers < 0:
        raise ConfigError("pool.workers: must be >= 0 (0 = one per core)")
    if not 0 <= settings.pool.worker_nice <= 19:
        raise ConfigError("pool.worker_nice: must be 0-19")
    if settings.pool.task_timeout_s <= 0 or settings.pool.start_timeout_s <= 0:
        raise ConfigError("pool: task_timeout_s and start_timeout_s must be > 0")
    if settings.pool.recycle_after < 1 or settings.pool.memory_limit_mb < 0:
        raise ConfigError("pool: recycle_after must be >= 1 and memory_limit_mb >= 0")
    if settings.watch.rescan_interval_s < 0:
        raise ConfigError("watch.rescan_interval_s: must be >= 0 (0 = off)")
    _validate_service(settings.service)
    _validate_writer(settings.writer)
    c = settings.cache
    if c.max_entries < 1 or c.max_mb <= 0 or c.ttl_days <= 0:
        raise ConfigError("cache: max_entries, max_mb and ttl_days must be > 0")
    if not settings.neo4j.uri.startswith(
        ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")
    ):
        raise ConfigError(f"neo4j.uri: not a bolt:// or neo4j:// URI: {settings.neo4j.uri}")


def _validate_upper_bounds(settings: Settings) -> None:
    for f in dataclasses.fields(Settings):
        section = getattr(settings, f.name)
        if not dataclasses.is_dataclass(section):
            continue
        for field_ in dataclasses.fields(section):
            value = getattr(section, field_.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            key = f"{f.name}.{field_.name}"
            high = _UPPER_BOUNDS.get(key, _MAX_SECONDS if key.endswith("_s") else None)
            if high is not None and value > high:
                raise ConfigError(f"{key}: must be at most {high:g}, got {value:g}")


def _validate_render(root: RootSettings, where: str) -> None:
    from lineaged.render.path_target import PathTargetRule, TargetRuleError
    from lineaged.render.root import TEMPLATES

    if root.template not in TEMPLATES:
        raise ConfigError(f"{where}.template: expected one of 'dbt', 'jinja', 'none', ''")
    if root.target_pattern and not root.target:
        raise ConfigError(f"{where}.target_pattern: needs a target template too")
    if root.target:
        try:
            PathTargetRule.build(root.target, root.target_pattern)
        except TargetRuleError as exc:
            raise ConfigError(f"{where}.{exc}") from None


def _validate_service(service: ServiceSettings) -> None:
    if service.drain_deadline_s <= 0:
        raise ConfigError("service.drain_deadline_s: must be > 0")
    if min(service.health_stale_s, service.status_interval_s, service.neo4j_check_interval_s) <= 0:
        raise ConfigError(
            "service: health_stale_s, status_interval_s and neo4j_check_interval_s must be > 0"
        )
    address = service.metrics_address.strip()
    if address in ("", "0"):
        return
    _host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"service.metrics_address: expected host:port, got {address!r}")


def _validate_writer(writer: WriterSettings) -> None:
    if writer.rows_per_tx < 1:
        raise ConfigError("writer.rows_per_tx: must be >= 1")
    if writer.backfill_tx_ms < 0:
        raise ConfigError("writer.backfill_tx_ms: must be >= 0")
    if writer.max_concurrent_tx < 1:
        raise ConfigError("writer.max_concurrent_tx: must be >= 1")
    if writer.slow_tx_s <= 0:
        raise ConfigError("writer.slow_tx_s: must be > 0")
    if not 0 < writer.backoff_initial_s <= writer.backoff_max_s:
        raise ConfigError("writer: need 0 < backoff_initial_s <= backoff_max_s")


def _check_schema_file(where: str, path: str) -> None:
    """Load it now, so a file the loader cannot read stops start-up (and check-config)
    with one line instead of a traceback at the first extraction."""
    from lineaged.extract.schema import load_schema_file

    try:
        load_schema_file(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}.schema_file: {exc}") from None
