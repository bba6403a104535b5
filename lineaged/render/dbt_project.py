"""A dbt project as a plain, picklable value: what rendering a model needs to know.

Loaded in the daemon (never in a worker) from `dbt_project.yml`, the properties and
sources YAML under the model/snapshot/seed paths, the macro files, seed CSV headers
and the `config()` calls of every model (a `ref()` to a model resolves to that
model's alias/schema/database, which its own file may set). No dbt install needed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

PROJECT_FILE = "dbt_project.yml"
# Configs that decide a node's relation and how it is built.
RELATION_KEYS = (
    "alias",
    "schema",
    "database",
    "materialized",
    "enabled",
    "identifier",
    "target_schema",  # snapshots (dbt's older style): the schema as is
    "target_database",
)
_CONFIG_CALL = re.compile(r"\{\{-?\s*config\s*\((.*?)\)\s*-?\}\}", re.DOTALL)


class DbtProjectError(ValueError):
    """dbt_project.yml or a YAML file cannot be read (one line, names the file)."""


@dataclass(frozen=True, slots=True)
class Node:
    """A model, snapshot, seed, analysis or test. `path` is relative to the project
    directory; `config` holds the merged relation configs from dbt_project.yml and
    properties YAML (the file's own `config()` is applied when it is rendered)."""

    name: str
    resource_type: str  # model | snapshot | seed | analysis | test
    path: str
    config: tuple[tuple[str, Any], ...] = ()
    version: str | None = None
    # config() kwargs found in the file by the loader, for ref() from other models.
    file_config: tuple[tuple[str, Any], ...] = ()
    columns: tuple[str, ...] = ()  # seeds: the CSV header
    # What the file's text names, found statically (for cache keys and for knowing
    # which models a changed macro or YAML file can affect; see render/deps.py).
    refs: tuple[str, ...] = ()
    source_refs: tuple[tuple[str, str], ...] = ()
    macros_used: tuple[str, ...] = ()
    config_file: str | None = None  # the properties YAML that configures it

    def merged_config(self) -> dict[str, Any]:
        return dict(self.config) | dict(self.file_config)


@dataclass(frozen=True, slots=True)
class Source:
    source: str
    table: str
    database: str | None
    schema: str
    identifier: str
    file: str = ""  # the YAML that defines it


@dataclass(frozen=True, slots=True)
class DbtProject:
    """`root` is the project directory; paths are relative to it."""

    root: str
    name: str
    model_paths: tuple[str, ...] = ("models",)
    macro_paths: tuple[str, ...] = ("macros",)
    seed_paths: tuple[str, ...] = ("seeds",)
    snapshot_paths: tuple[str, ...] = ("snapshots",)
    analysis_paths: tuple[str, ...] = ("analyses",)
    test_paths: tuple[str, ...] = ("tests",)
    vars: tuple[tuple[str, Any], ...] = ()
    nodes: tuple[Node, ...] = ()
    sources: tuple[Source, ...] = ()
    macro_files: tuple[tuple[str, str], ...] = ()  # (path, text)
    # (macro file, macros it defines, macro names its text mentions)
    macro_index: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    # From <target-path>/manifest.json, when dbt has compiled the project:
    # (file, compiled SQL, relation name or None), and the manifest's mtime.
    manifest: tuple[tuple[str, str, str | None], ...] = ()
    manifest_path: str = ""
    manifest_mtime_ns: int = 0
    # Fingerprints of what each part of the context came from, for cache keys and
    # change propagation (see lineaged/render/root.py).
    fingerprints: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    # Names passed to env_var() anywhere in the project: their values (read from the
    # daemon's environment, which the workers inherit) are part of every render key.
    env_vars: tuple[str, ...] = ()

    def compiled_for(self, path: str) -> tuple[str, str | None] | None:
        for file, code, relation in self.manifest:
            if file == path:
                return code, relation
        return None

    def node_for(self, path: str) -> Node | None:
        for node in self.nodes:
            if node.path == path:
                return node
        return None

    def resource_type_of(self, path: str) -> str | None:
        """What a file under the project is, by where it lives (None: not dbt's)."""
        for kind, dirs in (
            ("macro", self.macro_paths),
            ("model", self.model_paths),
            ("snapshot", self.snapshot_paths),
            ("analysis", self.analysis_paths),
            ("test", self.test_paths),
            ("seed", self.seed_paths),
        ):
            if any(_under(path, d) for d in dirs):
                return kind
        return None


def find_project_dir(start: Path) -> Path | None:
    """The directory holding dbt_project.yml: `start` or its nearest parent."""
    start = start.resolve()
    for d in (start, *start.parents):
        if (d / PROJECT_FILE).is_file():
            return d
    return None


def load_project(project_dir: Path) -> DbtProject:
    doc = _read_yaml(project_dir / PROJECT_FILE)
    if not isinstance(doc, dict) or not doc.get("name"):
        raise DbtProjectError(f"{project_dir / PROJECT_FILE}: no project 'name'")
    name = str(doc["name"])
    paths = {
        key: tuple(doc.get(key) or default)
        for key, default in (
            ("model-paths", ["models"]),
            ("macro-paths", ["macros"]),
            ("seed-paths", ["seeds"]),
            ("snapshot-paths", ["snapshots"]),
            ("analysis-paths", ["analyses"]),
            ("test-paths", ["tests"]),
        )
    }
    project_bytes = (project_dir / PROJECT_FILE).read_bytes()
    prints: dict[str, str] = {PROJECT_FILE: _digest(project_bytes)}
    envs = env_var_names(project_bytes.decode("utf-8", errors="replace"))
    props, sources = _properties(project_dir, paths, name, prints, envs)
    macros = _macro_files(project_dir, paths["macro-paths"], prints)
    for _path, text in macros:
        envs |= env_var_names(text)
    index = _macro_index(macros)
    known = frozenset(n for _f, names, _u in index for n in names)
    nodes = _nodes(project_dir, paths, name, doc, props, known, envs)
    manifest_path = f"{str(doc.get('target-path') or 'target').strip('/')}/manifest.json"
    manifest, manifest_mtime = _manifest(project_dir / manifest_path, prints, manifest_path)
    return DbtProject(
        root=str(project_dir),
        name=name,
        model_paths=paths["model-paths"],
        macro_paths=paths["macro-paths"],
        seed_paths=paths["seed-paths"],
        snapshot_paths=paths["snapshot-paths"],
        analysis_paths=paths["analysis-paths"],
        test_paths=paths["test-paths"],
        vars=tuple(sorted(_project_vars(doc.get("vars"), name).items())),
        nodes=nodes,
        sources=sources,
        macro_files=macros,
        macro_index=index,
        manifest=manifest,
        manifest_path=manifest_path,
        manifest_mtime_ns=manifest_mtime,
        fingerprints=tuple(sorted(prints.items())),
        env_vars=tuple(sorted(envs)),
    )


def _manifest(
    path: Path, prints: dict[str, str], rel: str
) -> tuple[tuple[tuple[str, str, str | None], ...], int]:
    """Compiled SQL and relation names from dbt's manifest. A manifest that cannot be
    read is ignored (lineaged renders by itself then), never an error."""
    try:
        data = path.read_bytes()
        mtime = path.stat().st_mtime_ns
        doc = orjson.loads(data)
    except (OSError, orjson.JSONDecodeError):
        return (), 0
    prints[rel] = _digest(data)
    entries = []
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    for node in (nodes or {}).values():
        if not isinstance(node, dict):
            continue
        code = node.get("compiled_code") or node.get("compiled_sql")
        file = node.get("original_file_path")
        if isinstance(code, str) and isinstance(file, str) and file.endswith(".sql"):
            entries.append((file, code, node.get("relation_name")))
    return tuple(sorted(entries, key=lambda e: e[0])), mtime


# -- pieces ------------------------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    # Imported here: settings validation imports this module (via render.root), and
    # every CLI command validates settings; only dbt roots read YAML.
    import yaml

    # libyaml's safe loader: ~10x the pure-Python one on a large project's properties YAML.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError) as exc:
        raise DbtProjectError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise DbtProjectError(f"{path}:{where} invalid YAML") from None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _under(path: str, directory: str) -> bool:
    d = directory.strip("/")
    return path == d or path.startswith(d + "/")


def _walk(project_dir: Path, dirs: tuple[str, ...], suffixes: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        base = project_dir / d
        if base.is_dir():
            out.extend(p for p in base.rglob("*") if p.suffix in suffixes and p.is_file())
    return sorted(out)


def _rel(project_dir: Path, path: Path) -> str:
    return path.relative_to(project_dir).as_posix()


def _project_vars(raw: Any, name: str) -> dict[str, Any]:
    """Global vars plus this project's scoped ones (`vars: {name: {...}}`)."""
    if not isinstance(raw, dict):
        return {}
    out = {k: v for k, v in raw.items() if not (k == name and isinstance(v, dict))}
    scoped = raw.get(name)
    if isinstance(scoped, dict):
        out.update(scoped)
    return out


def _properties(
    project_dir: Path,
    paths: dict[str, tuple[str, ...]],
    name: str,
    prints: dict[str, str],
    envs: set[str],
) -> tuple[dict[str, tuple[dict[str, Any], str]], tuple[Source, ...]]:
    """Per-node configs (with the YAML file they came from) from properties YAML
    (`models:`, `seeds:`, `snapshots:`) and every source table from `sources:`."""
    configs: dict[str, tuple[dict[str, Any], str]] = {}
    sources: list[Source] = []
    dirs = paths["model-paths"] + paths["seed-paths"] + paths["snapshot-paths"]
    for path in _walk(project_dir, dirs, (".yml", ".yaml")):
        doc = _read_yaml(path)
        rel = _rel(project_dir, path)
        data = path.read_bytes()
        prints[rel] = _digest(data)
        envs |= env_var_names(data.decode("utf-8", errors="replace"))
        if not isinstance(doc, dict):
            continue
        for key in ("models", "seeds", "snapshots"):
            for entry in doc.get(key) or []:
                if isinstance(entry, dict) and entry.get("name"):
                    configs[str(entry["name"])] = (dict(entry.get("config") or {}), rel)
        for src in doc.get("sources") or []:
            sources.extend(_source_tables(src, rel))
    return configs, tuple(sorted(sources, key=lambda s: (s.source, s.table)))


def _source_tables(src: Any, file: str) -> list[Source]:
    if not isinstance(src, dict) or not src.get("name"):
        return []
    name = str(src["name"])
    database = src.get("database") or src.get("catalog")
    schema = str(src.get("schema") or name)
    out = []
    for table in src.get("tables") or []:
        if isinstance(table, dict) and table.get("name"):
            identifier = str(table.get("identifier") or table["name"])
            out.append(Source(name, str(table["name"]), database, schema, identifier, file))
    return out


def _nodes(
    project_dir: Path,
    paths: dict[str, tuple[str, ...]],
    name: str,
    doc: dict[str, Any],
    props: dict[str, tuple[dict[str, Any], str]],
    macros: frozenset[str],
    envs: set[str],
) -> tuple[Node, ...]:
    nodes: list[Node] = []
    kinds = (
        ("model", "model-paths", "models"),
        ("snapshot", "snapshot-paths", "snapshots"),
        ("analysis", "analysis-paths", None),
        ("test", "test-paths", None),
    )
    for kind, key, section in kinds:
        for path in _walk(project_dir, paths[key], (".sql",)):
            rel = _rel(project_dir, path)
            text = path.read_text(encoding="utf-8", errors="replace")
            envs |= env_var_names(text)
            config = _tree_config(doc.get(section) if section else None, name, rel, paths[key])
            yml_config, yml = props.get(path.stem, ({}, None))
            config.update(yml_config)
            for node in _file_nodes(kind, rel, path.stem, text, config):
                nodes.append(_with_uses(node, text, macros, yml))
    for path in _walk(project_dir, paths["seed-paths"], (".csv",)):
        rel = _rel(project_dir, path)
        config = _tree_config(doc.get("seeds"), name, rel, paths["seed-paths"])
        yml_config, yml = props.get(path.stem, ({}, None))
        config.update(yml_config)
        nodes.append(
            Node(
                path.stem,
                "seed",
                rel,
                _frozen(config),
                columns=_csv_header(path),
                config_file=yml,
            )
        )
    return tuple(nodes)


_REF = re.compile(r"\bref\s*\(\s*['\"]([^'\"]+)['\"](?:\s*,\s*['\"]([^'\"]+)['\"])?")
_SOURCE = re.compile(r"\bsource\s*\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]([^'\"]+)['\"]")
_WORD = re.compile(r"[A-Za-z_]\w*")
_ENV_VAR = re.compile(r"\benv_var\s*\(\s*['\"]([^'\"]+)['\"]")


def env_var_names(text: str) -> set[str]:
    """Environment variables a text reads through env_var('NAME', ...)."""
    return set(_ENV_VAR.findall(text))


def _with_uses(node: Node, text: str, macros: frozenset[str], yml: str | None) -> Node:
    refs = sorted({m.group(2) or m.group(1) for m in _REF.finditer(text)})
    sources = sorted({(m.group(1), m.group(2)) for m in _SOURCE.finditer(text)})
    used = sorted(mentioned_macros(text, macros))
    return replace(
        node,
        refs=tuple(refs),
        source_refs=tuple(sources),
        macros_used=tuple(used),
        config_file=yml,
    )


def mentioned_macros(text: str, macros: frozenset[str]) -> set[str]:
    """Macro names a text may call: plain mentions, and `adapter.dispatch('x')`
    targets (`<adapter>__x`, `default__x`), over-approximated on purpose."""
    words = set(_WORD.findall(text))
    found = words & macros
    for name in macros:
        _prefix, sep, base = name.partition("__")
        if sep and base in words:
            found.add(name)
    return found


def _macro_index(
    files: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    defined = {path: re.findall(r"\{%-?\s*macro\s+(\w+)\s*\(", text) for path, text in files}
    known = frozenset(n for names in defined.values() for n in names)
    return tuple(
        (path, tuple(defined[path]), tuple(sorted(mentioned_macros(text, known))))
        for path, text in files
    )


def _file_nodes(kind: str, rel: str, stem: str, text: str, config: dict[str, Any]) -> list[Node]:
    if kind == "snapshot":
        # A snapshot file holds `{% snapshot name %} ... {% endsnapshot %}` blocks.
        names = re.findall(r"\{%-?\s*snapshot\s+(\w+)\s*-?%\}", text)
        file_config = _frozen(_literal_config(text))
        return [Node(n, kind, rel, _frozen(config), None, file_config) for n in names or [stem]]
    name, version = stem, None
    m = re.fullmatch(r"(.+)_v(\d+)", stem)
    if m:  # versioned models: `orders_v2.sql` is version 2 of `orders`
        name, version = m.group(1), m.group(2)
    file_config = _literal_config(text)
    return [Node(name, kind, rel, _frozen(config), version, _frozen(file_config))]


def _literal_config(text: str) -> dict[str, Any]:
    """Relation configs of a file's `{{ config(...) }}` when they are literals
    (`alias='x'`); anything computed is left to the render of the file itself."""
    out: dict[str, Any] = {}
    for m in _CONFIG_CALL.finditer(text):
        for key, value in re.findall(
            r"(\w+)\s*=\s*('[^']*'|\"[^\"]*\"|True|False|true|false)", m.group(1)
        ):
            if key in RELATION_KEYS:
                out[key] = value.strip("'\"") if value[0] in "'\"" else value.lower() == "true"
    return out


def _tree_config(tree: Any, project: str, rel: str, roots: tuple[str, ...]) -> dict[str, Any]:
    """dbt_project.yml `models: {project: {dir: {+schema: x}}}`: the configs on the
    path to `rel`, the deepest winning."""
    out: dict[str, Any] = {}
    if not isinstance(tree, dict):
        return out
    node = tree.get(project)
    parts = list(PurePosixPath(rel).parts)
    for root in roots:
        root_parts = PurePosixPath(root).parts
        if tuple(parts[: len(root_parts)]) == root_parts:
            parts = parts[len(root_parts) :]
            break
    dirs = parts[:-1]
    stem = PurePosixPath(rel).stem
    for step in [None, *dirs, stem]:
        if step is not None:
            node = node.get(step) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        for key, value in node.items():
            if key.startswith("+"):
                out[key[1:]] = value
            elif key in RELATION_KEYS and not isinstance(value, dict):
                out[key] = value
    return out


def _frozen(config: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, v) for k, v in config.items() if k in RELATION_KEYS))


def _csv_header(path: Path) -> tuple[str, ...]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            first = fh.readline()
    except OSError:
        return ()
    row = next(csv.reader(io.StringIO(first)), [])
    return tuple(c.strip() for c in row if c.strip())


def _macro_files(
    project_dir: Path, dirs: tuple[str, ...], prints: dict[str, str]
) -> tuple[tuple[str, str], ...]:
    out = []
    for path in _walk(project_dir, dirs, (".sql",)):
        data = path.read_bytes()
        rel = _rel(project_dir, path)
        prints[rel] = _digest(data)
        out.append((rel, data.decode("utf-8", errors="replace")))
    return tuple(out)
