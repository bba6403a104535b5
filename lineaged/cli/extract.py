"""`lineaged extract PATH... [--dialect D] [--schema FILE] [--json] ...`

One file: the JSON object (with --json) or a readable summary. Several files or a
directory: JSON Lines, one object per file, so large trees stream from one process.
Exit codes: 0 all files extracted without errors, 1 some file or statement carried an
error, 2 usage error (unknown dialect, unreadable path or schema file; a path that is
not a regular file, such as a FIFO or a device, or is over the size limit).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from lineaged.cli.exit_codes import ExitCode
from lineaged.cli.extract_roots import FALLBACK_DIALECT
from lineaged.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from lineaged.catalog import Conflict
    from lineaged.cli.extract_roots import FileOptions
    from lineaged.model import FileLineage
    from lineaged.paths import RootMatcher


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="print the lineage of SQL files",
        description="Extract table and column lineage from SQL files (see docs/extract.md).",
        epilog="examples:\n  lineaged extract models/orders.sql\n"
        "  lineaged extract models/orders.sql --json | jq .statements\n"
        "  lineaged extract warehouse/ --dialect snowflake --schema schema.yaml --json\n"
        "  lineaged extract -c config.toml sql/   # each root's dialect, globs, defaults\n\n"
        "exit codes: 0 no errors, 1 some file or statement has an error, 2 bad usage",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="SQL file or directory")
    parser.add_argument(
        "--dialect",
        help="sqlglot dialect name (default: the dialect of the config root holding the "
        f"file, else {FALLBACK_DIALECT})",
    )
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="config.toml whose roots give dialect, globs and defaults by path "
        "(default: $LINEAGED_CONFIG, or ./config.toml when --dialect is not given)",
    )
    parser.add_argument("--schema", metavar="FILE", help="JSON/YAML {table: {column: type}}")
    parser.add_argument("--json", action="store_true", help="print JSON (JSON Lines if many)")
    parser.add_argument("--default-catalog", metavar="X", help="catalog for unqualified names")
    parser.add_argument("--default-schema", metavar="Y", help="schema for unqualified names")
    parser.add_argument("--target-rule", metavar="T", help='path-target rule, e.g. "{1}.{2}.{3}"')
    parser.add_argument("--target-pattern", metavar="RE", help="regex for --target-rule groups")
    parser.add_argument(
        "--template",
        choices=("dbt", "jinja", "none"),
        help="render as dbt / generic Jinja (a dbt_project.yml at or above PATH is found"
        " without this)",
    )
    parser.add_argument("--var", action="append", metavar="K=V", help="dbt var / Jinja name")
    parser.add_argument("--root", metavar="DIR", help="paths for --target-rule are relative to")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from lineaged.cli.extract_roots import matchers
    from lineaged.extract import known_dialects
    from lineaged.extract.dialects import unknown_dialect_message

    if args.dialect is not None and args.dialect not in known_dialects():
        print(f"lineaged extract: {unknown_dialect_message(args.dialect)}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        roots = matchers(_settings(args))
    except ConfigError as exc:
        print(f"lineaged extract: config error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    files = list(_files(args.paths, roots))
    options = {str(p): _options(p, roots, args) for p in files}
    try:
        schemas = _schemas(options.values())
    except (OSError, ValueError) as exc:
        print(f"lineaged extract: cannot load schema: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if any(o.root == "" for o in options.values()) and args.dialect is None:
        print(
            f"lineaged extract: no --dialect and no config root for some files; "
            f"reading them as {FALLBACK_DIALECT}",
            file=sys.stderr,
        )
    data, unreadable = _read_all(files)
    if unreadable:
        for problem in unreadable:
            print(f"lineaged extract: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    many = len(files) > 1 or any(Path(p).is_dir() for p in args.paths)
    try:
        renders = _renders(files, roots, args)
    except ValueError as exc:  # a malformed rule or --var: configuration, not a file
        print(f"lineaged extract: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    results = _extract_all(files, data, options, schemas, renders)
    failed = False
    out = sys.stdout.buffer
    for path, data in zip(files, results.data, strict=True):
        lineage = results.results[str(path)]
        failed |= _has_errors(lineage)
        record = to_record(str(path), data, lineage)
        if args.json:
            option = 0 if many else orjson.OPT_INDENT_2
            out.write(orjson.dumps(record, option=option) + b"\n")
        else:
            out.write(summary(record).encode() + b"\n")
        out.flush()
    for conflict in results.conflicts:
        others = ", ".join(conflict.others)
        print(
            f"lineaged extract: {conflict.table} is defined differently in {others}; "
            f"using {conflict.chosen}",
            file=sys.stderr,
        )
    for path in results.unsettled:
        print(f"lineaged extract: {path}: columns did not settle (cycle?)", file=sys.stderr)
    return ExitCode.PROBLEMS if failed else ExitCode.OK


@dataclass
class _Extracted:
    data: list[bytes]
    results: dict[str, FileLineage]
    conflicts: list[Conflict]
    unsettled: list[str]


def _settings(args: argparse.Namespace) -> Settings | None:
    path = args.config or os.environ.get("LINEAGED_CONFIG")
    if not path and args.dialect is None and Path("config.toml").is_file():
        path = "config.toml"
    return load_settings(Path(path)) if path else None


def _options(path: Path, roots: list[RootMatcher], args: argparse.Namespace) -> FileOptions:
    from lineaged.cli.extract_roots import options_for

    return options_for(
        path,
        roots,
        dialect=args.dialect,
        default_catalog=args.default_catalog,
        default_schema=args.default_schema,
        schema_file=args.schema,
    )


def _schemas(options: Iterable[FileOptions]) -> dict[str, dict | None]:
    from lineaged.extract import load_schema_file

    files = {o.schema_file for o in options}
    return {f: load_schema_file(f) if f else None for f in files}


def _renders(files: list[Path], roots: list[RootMatcher], args: argparse.Namespace) -> dict:
    """Per file: its root's render set-up and its path in that root (templates and
    path-target rules, as the daemon applies them; a dbt project above a file outside
    every configured root is found by itself)."""
    from lineaged.render.for_paths import RootForPaths, implicit_settings

    resolver = RootForPaths(tuple(m.root for m in roots), implicit_settings(args), args.root)
    given = [Path(p) for p in args.paths]
    out = {}
    for path in files:
        arg = next((g for g in given if path == g or path.is_relative_to(g)), path)
        root, rel = resolver.resolve(path, arg)
        out[str(path)] = (resolver.render(root), rel)
    return out


def _read_all(files: list[Path]) -> tuple[list[bytes], list[str]]:
    """Each file's bytes, read as the daemon reads (lineaged/reading.py): a FIFO or
    device named on the command line is never opened for reading (`open()` on a FIFO
    waits for a writer forever, /dev/zero never ends), a read stops at the size limit.
    Returns the contents and one line per file that cannot be read."""
    from lineaged.reading import NotRegularFile, read_file

    data, problems = [], []
    for path in files:
        try:
            content = read_file(str(path))
        except (FileNotFoundError, NotADirectoryError):
            problems.append(f"no such file: {path}")
            continue
        except NotRegularFile as exc:
            problems.append(str(exc))
            continue
        if content.error is not None:
            problems.append(f"{path}: {content.error}")
        data.append(content.data)
    return data, problems


def _extract_all(
    files: list[Path],
    data: list[bytes],
    options: dict[str, FileOptions],
    schemas: dict[str, dict | None],
    renders: dict,
) -> _Extracted:
    """The files resolve against each other's definitions (corpus catalog), exactly
    as the daemon resolves a root: the same fixpoint, so the same result. Each file
    keeps the options of its root (the root name keys the catalog's schema layer)."""
    from lineaged.catalog import Catalog
    from lineaged.catalog.fixpoint import CorpusFile, settle
    from lineaged.extract import EXTRACTOR_VERSION, schema_layer
    from lineaged.render.job import extract_file

    corpus = [CorpusFile(str(p), options[str(p)].root, d) for p, d in zip(files, data, strict=True)]

    def one(f: CorpusFile, catalog: Mapping[str, Mapping[str, str]]) -> FileLineage:
        o = options[f.id]
        render, rel = renders[f.id]
        lineage = extract_file(
            f.data,
            o.dialect,
            schemas[o.schema_file],
            o.default_catalog,
            o.default_schema,
            render.job_for(rel),
            catalog=catalog,
        )
        suffix = render.version_suffix(rel)  # what the daemon records for the file
        if suffix:
            lineage = dataclasses.replace(lineage, extractor_version=EXTRACTOR_VERSION + suffix)
        return lineage

    layers = {}
    for o in options.values():
        layers.setdefault(
            o.root,
            schema_layer(
                schemas[o.schema_file],
                o.dialect,
                default_catalog=o.default_catalog,
                default_schema=o.default_schema,
            ),
        )
    settled = settle(corpus, one, Catalog(explicit=layers))
    return _Extracted(data, settled.results, settled.conflicts, settled.unsettled)


def _files(paths: list[str], roots: list[RootMatcher]) -> Iterator[Path]:
    from lineaged.cli.extract_roots import sql_files

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sql_files(path, roots)
        else:
            yield path


def _has_errors(lineage: FileLineage) -> bool:
    return lineage.error is not None or any(s.error for s in lineage.statements)


def to_record(path: str, data: bytes, lineage: FileLineage) -> dict[str, Any]:
    """The public JSON shape (docs/extract.md)."""
    body = lineage.to_dict()
    return {
        "path": path,
        "sha256": hashlib.sha256(data).hexdigest(),
        "dialect": body["dialect"],
        "extractor_version": body["extractor_version"],
        "statements": body["statements"],
        "error": body["error"],
        "defines": body["defines"],
        "schema_used": body["schema_used"],
        "schema_fingerprint": body["schema_fingerprint"],
    }


def summary(record: dict[str, Any]) -> str:
    lines = [f"{record['path']} ({record['dialect']}, {len(record['statements'])} statements)"]
    if record["error"]:
        lines.append(f"  file error: {record['error']}")
    for s in record["statements"]:
        head = f"  [{s['index']}] line {s['line']}: {s['kind']}"
        if s["error"]:
            lines.append(f"{head}  ERROR {s['error']}")
            continue
        lines.append(head)
        for label, key in (("writes", "targets"), ("temp", "temp_targets"), ("reads", "sources")):
            if s[key]:
                lines.append(f"      {label}: {', '.join(s[key])}")
        for c in s["columns"]:
            lines.append(f"      {c['target']} <- {', '.join(c['sources'])}  [{c['transform']}]")
        if s["unresolved"]:
            lines.append(f"      unresolved: {', '.join(s['unresolved'])}")
    return "\n".join(lines)
