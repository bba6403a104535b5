"""The `$p` map the writer sends with every write query, without its eager repr.

The neo4j driver (6.4.1, `_bolt5.py` `run`) formats its RUN debug line before calling
the logger, `" ".join(map(repr, fields))`, whatever the log level: every write
statement turned its whole parameter map (a backfill transaction's ~4,000 rows) into a
string and threw it away. In a 20k-file rebuild from the cache that was 9 % of the
daemon's samples (py-spy, `tests/bench/bench_rebuild.py --profile`). A dict whose repr
is a one-line summary packs to the same bytes (the driver's packer takes dict
subclasses, tests/test_graph_params.py) and keeps rows out of a debug log too.
"""

from __future__ import annotations

from typing import Any


class QuietParams(dict[str, Any]):
    __slots__ = ()

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{k}: {len(v)}" if isinstance(v, list | dict) else k for k, v in self.items()
        )
        return f"<$p {sizes}>"


def p_param(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of one write query: its lists in one map, `$p` (queries.py)."""
    return {"p": QuietParams(params)}
