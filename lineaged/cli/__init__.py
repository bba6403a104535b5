"""The `lineaged` command line: one module per command, wired in `app.py`.

Every command module keeps its heavy imports (sqlglot, neo4j, aiosqlite) inside its
handler, so `lineaged --help` or `lineaged status` does not pay for them.
"""

from lineaged.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
