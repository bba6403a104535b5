"""What runs inside a worker process. Kept tiny: the pool pickles a reference to
`extract_task`, so importing this module must be cheap and side-effect free."""

from __future__ import annotations

import gc
from collections.abc import Mapping

from lineaged.model import FileLineage
from lineaged.render.job import RenderJob


def init_worker() -> None:
    """Import the heavy modules once and freeze them out of the cyclic GC: sqlglot trees
    point back to their parents, and scanning the long-lived import graph on every
    collection costs 10-16 % of parse time."""
    import lineaged.extract  # noqa: F401  (import for its side effect: warm caches)

    gc.freeze()


def extract_task(
    data: bytes,
    dialect: str,
    schema: Mapping[str, Mapping[str, str]] | None,
    default_catalog: str | None,
    default_schema: str | None,
    catalog: Mapping[str, Mapping[str, str]] | None = None,
    render: RenderJob | None = None,
) -> FileLineage:
    from lineaged.render.job import extract_file

    return extract_file(
        data, dialect, schema, default_catalog, default_schema, render, catalog=catalog
    )
