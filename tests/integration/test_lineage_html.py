"""`lineaged lineage ... --format html` on the examples, opened in a real headless
Chromium: the page's own script counts the SVG boxes and edges the browser laid out,
and a screenshot must show the table boxes and edges in their colours.

Chromium comes from Debian's `chromium` package (scripts/ensure_chromium.sh, which
`make test` runs first, installs it as root). Without it this test fails; it never
skips.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .configs import neo4j_env
from .examples_graph import run_lineaged, scan_examples

HEADER = (0x4C, 0x8E, 0xDA)  # .table .head
CENTER = (0xF1, 0x66, 0x67)  # .table.center .head
DIRECT = (0x28, 0x70, 0xC2)  # .edge.direct (also the box border)


def _chromium() -> str:
    explicit = os.environ.get("LINEAGED_CHROMIUM")
    for candidate in (explicit, "chromium", "chromium-browser", "google-chrome"):
        if candidate and (path := shutil.which(candidate)):
            return path
    pytest.fail(
        "no Chromium for the HTML view test: run scripts/ensure_chromium.sh "
        "(Debian: apt-get install chromium) or set LINEAGED_CHROMIUM",
        pytrace=False,
    )


def _browse(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _chromium(),
            "--headless=new",
            "--no-sandbox",  # root in CI
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={page.parent / 'chromium-profile'}",
            "--window-size=1800,1000",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _lineage_html(server: Any, *args: str) -> str:
    proc = run_lineaged(neo4j_env(server), "lineage", *args, "--format", "html")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tol: int = 12) -> bool:
    return all(abs(p - c) <= tol for p, c in zip(pixel[:3], colour, strict=True))


def test_html_view_renders_in_chromium(neo4j_server: Any, tmp_path: Path) -> None:
    scan_examples(neo4j_server, tmp_path / "scan")
    html = _lineage_html(neo4j_server, "upstream", "marts.dim_customers")
    page = tmp_path / "dim_customers.html"
    page.write_text(html)
    tables = set(re.findall(r'<g class="table[^"]*" data-table="([^"]+)"', html))
    # Everything upstream of dim_customers in examples/, and the asked table itself.
    assert {
        "marts.dim_customers",
        "marts.fct_orders",
        "staging.stg_customers",
        "staging.stg_orders",
        "raw.orders",
        "raw.customers",
    } <= tables
    n_edges = len(re.findall(r'<path class="edge ', html))
    assert n_edges > 10

    dom = _browse(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body is not None, dom.stdout[:500]
    assert f'data-rendered-tables="{len(tables)}"' in body.group(1), body.group(1)
    assert f'data-rendered-edges="{n_edges}"' in body.group(1), body.group(1)

    shot = tmp_path / "dim_customers.png"
    run = _browse(page, f"--screenshot={shot}")
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    pixels = list(image.get_flattened_data())
    header = sum(_near(p, HEADER) for p in pixels)
    center = sum(_near(p, CENTER) for p in pixels)
    direct = sum(_near(p, DIRECT, tol=30) for p in pixels)
    # A header is >= 200 x 30 px; a blank or unstyled page has none of these colours.
    # Curves are ~1.6 px and anti-aliased: only their cores match exactly (a first run
    # counted 925 such pixels for 26 curves and the box borders).
    assert header > 5 * 200 * 25, header
    assert center > 200 * 25, center
    assert direct > 400, direct
