"""`lineage ... --format html`: one self-contained page (inline SVG, CSS and a little JS;
nothing fetched) showing a table's upstream or downstream tables with their columns,
the column edges between them by transform, and each table's statement-wide influence.

The layout is computed here, not in the browser: tables go in columns by distance from
NAME (upstream to the left, downstream to the right), each a box listing its columns;
column edges are curves from a source row to a target row. The script only adds
hover highlighting (a column's whole chain) and marks the page as rendered
(`data-rendered-tables` on <body>, counted from laid-out SVG boxes) for tests.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from html import escape
from importlib import resources
from typing import Any

from lineaged.export.records import ColumnRef, TableView

MIN_BOX_W = 200
CHAR_W = 7.3
HEADER_H = 30
ROW_H = 20
LAYER_GAP = 170  # horizontal space between two layers of boxes (room for the curves)
BOX_GAP = 36
MARGIN = 24
MAX_ROWS = 40  # wider tables show only the columns with edges, then "… N more"


@dataclass(frozen=True)
class _Box:
    table: str
    layer: int
    x: float
    y: float
    width: float
    rows: tuple[str, ...]
    hidden: int
    influences: tuple[tuple[ColumnRef, str], ...]

    @property
    def natural_width(self) -> float:
        """Wide enough for the longest line (monospace, ~7.3 px a character)."""
        lines = [self.table, *self.rows]
        lines += [f"{t.partition('/')[2]} {src.table}.{src.name}" for src, t in self.influences]
        return max(MIN_BOX_W, 24 + CHAR_W * max(len(line) for line in lines))

    @property
    def height(self) -> float:
        extra = (1 if self.hidden else 0) + (1 + len(self.influences) if self.influences else 0)
        return HEADER_H + ROW_H * (len(self.rows) + extra) + 6

    def row_y(self, column: str) -> float | None:
        try:
            return self.y + HEADER_H + ROW_H * self.rows.index(column) + ROW_H / 2
        except ValueError:
            return None


def render_html(
    direction: str,
    name: str,
    edges: list[Any],
    view: TableView,
    *,
    column: bool = False,
    source: str = "",
) -> str:
    """`edges` are lineaged.graph.lineage Edges (table names, or column ids with `column`)."""
    center = name.rpartition(".")[0] if column else name
    layers = _layers(direction, center, edges, column=column)
    boxes = _layout(layers, view)
    highlighted = {(e.source, e.target) for e in edges} if column else set()
    svg = _svg(boxes, view, edges, center, highlighted, column=column)
    title = f"{direction.capitalize()} of {name}"
    return _PAGE.format(
        title=escape(title),
        heading=f"{escape(direction.capitalize())} of <code>{escape(name)}</code>",
        source=escape(source),
        summary=escape(_summary(boxes, view, edges)),
        svg=svg,
        edge_rows=_edge_rows(edges),
        css=_asset("html_view.css"),
        script=_asset("html_view.js"),
    )


def _asset(name: str) -> str:
    """CSS/JS shipped next to this module, inlined so the page needs nothing else."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _layers(direction: str, center: str, edges: list[Any], *, column: bool) -> dict[str, int]:
    sign = -1 if direction == "upstream" else 1
    layer = {center: 0}
    for e in edges:
        far = e.source if direction == "upstream" else e.target
        table = far.rpartition(".")[0] if column else far
        if table == center:
            continue
        d = sign * e.depth
        if table not in layer or abs(d) < abs(layer[table]):
            layer[table] = d
    return layer


def _layout(layers: dict[str, int], view: TableView) -> dict[str, _Box]:
    wired: dict[str, set[str]] = defaultdict(set)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for e in view.column_inputs:
        wired[e.target.table].add(e.target.name)
        wired[e.source.table].add(e.source.name)
        neighbours[e.target.table].add(e.source.table)
        neighbours[e.source.table].add(e.target.table)
    influences: dict[str, list[tuple[ColumnRef, str]]] = defaultdict(list)
    for table, src, transform in view.influences:
        if src.table in layers:
            influences[table].append((src, transform))
            neighbours[table].add(src.table)
    order = _order(layers, neighbours)
    draft: dict[str, _Box] = {}
    for table, layer in layers.items():
        columns = view.columns.get(table, ())
        rows = columns if len(columns) <= MAX_ROWS else tuple(sorted(wired[table]))
        inf = tuple(influences[table])
        draft[table] = _Box(table, layer, 0, 0, 0, rows, len(columns) - len(rows), inf)
    widths = {
        layer: max(b.natural_width for b in draft.values() if b.layer == layer) for layer in order
    }
    boxes: dict[str, _Box] = {}
    x = float(MARGIN)
    for layer in sorted(order):
        y = MARGIN + 40.0
        for table in order[layer]:
            box = dataclasses.replace(draft[table], x=x, y=y, width=widths[layer])
            boxes[table] = box
            y += box.height + BOX_GAP
        x += widths[layer] + LAYER_GAP
    return boxes


def _order(layers: dict[str, int], neighbours: dict[str, set[str]]) -> dict[int, list[str]]:
    """Tables per layer, outward from NAME, each layer sorted by the mean position of
    its neighbours in the layer before it (one barycentre pass: fewer crossings)."""
    by_layer: dict[int, list[str]] = defaultdict(list)
    for table, layer in layers.items():
        by_layer[layer].append(table)
    order = {0: sorted(by_layer[0])}
    for step in (1, -1):
        layer = step
        while layer in by_layer:
            before = {t: i for i, t in enumerate(order[layer - step])}

            def key(table: str, before: dict[str, int] = before) -> tuple[float, str]:
                pos = [before[n] for n in neighbours[table] if n in before]
                return (sum(pos) / len(pos) if pos else len(before), table)

            order[layer] = sorted(by_layer[layer], key=key)
            layer += step
    return order


def _svg(
    boxes: dict[str, _Box],
    view: TableView,
    edges: list[Any],
    center: str,
    highlighted: set[tuple[str, str]],
    *,
    column: bool,
) -> str:
    width = max(b.x + b.width for b in boxes.values()) + MARGIN
    height = max(b.y + b.height for b in boxes.values()) + MARGIN
    parts = [
        f'<svg id="lineage" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
    ]
    if not column:
        for e in edges:
            a, b = boxes.get(e.source), boxes.get(e.target)
            if a and b:
                parts.append(
                    _curve(a.x + a.width, a.y + HEADER_H / 2, b.x, b.y + HEADER_H / 2, "table-edge")
                )
    for e in view.column_inputs:
        a, b = boxes.get(e.source.table), boxes.get(e.target.table)
        ya = a.row_y(e.source.name) if a else None
        yb = b.row_y(e.target.name) if b else None
        if a is None or b is None or ya is None or yb is None:
            continue
        kind = "direct" if e.transform.startswith("DIRECT") else "indirect"
        src_id, tgt_id = f"{e.source.table}.{e.source.name}", f"{e.target.table}.{e.target.name}"
        hl = " query" if (src_id, tgt_id) in highlighted else ""
        parts.append(
            _curve(
                a.x + a.width,
                ya,
                b.x,
                yb,
                f"edge {kind}{hl}",
                data={"from": src_id, "to": tgt_id, "transform": e.transform},
            )
        )
    for box in boxes.values():
        parts.append(_box_svg(box, is_center=box.table == center))
    parts.append("</svg>")
    return "\n".join(parts)


def _curve(
    x1: float, y1: float, x2: float, y2: float, cls: str, data: dict[str, str] | None = None
) -> str:
    dx = max(40.0, abs(x2 - x1) / 2)
    attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in (data or {}).items())
    title = ""
    if data:
        what = f"{data['from']} → {data['to']} ({data['transform']})"
        title = f"<title>{escape(what)}</title>"
    return (
        f'<path class="{cls}"{attrs} d="M{x1:.1f},{y1:.1f} C{x1 + dx:.1f},{y1:.1f} '
        f'{x2 - dx:.1f},{y2:.1f} {x2:.1f},{y2:.1f}">{title}</path>'
    )


def _box_svg(box: _Box, *, is_center: bool) -> str:
    cls = "table center" if is_center else "table"
    out = [
        f'<g class="{cls}" data-table="{escape(box.table)}">',
        f'<rect class="body" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
        f'height="{box.height:.1f}" rx="6"/>',
        f'<rect class="head" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
        f'height="{HEADER_H}" rx="6"/>',
        f'<text class="title" x="{box.x + 10:.1f}" y="{box.y + 20:.1f}">{escape(box.table)}</text>',
    ]
    for i, col in enumerate(box.rows):
        y = box.y + HEADER_H + ROW_H * i
        out.append(
            f'<g class="col" data-id="{escape(box.table)}.{escape(col)}">'
            f'<rect x="{box.x:.1f}" y="{y:.1f}" width="{box.width:.1f}" height="{ROW_H}"/>'
            f'<text x="{box.x + 12:.1f}" y="{y + 14:.1f}">{escape(col)}</text></g>'
        )
    y = box.y + HEADER_H + ROW_H * len(box.rows)
    if box.hidden:
        label = f"… {box.hidden} more columns without edges here"
        out.append(_text("more", box.x + 12, y + 14, label))
        y += ROW_H
    if box.influences:
        out.append(_text("inf-head", box.x + 12, y + 14, "every row shaped by"))
        for src, transform in box.influences:
            y += ROW_H
            label = f"{transform.partition('/')[2]} {src.table}.{src.name}"
            out.append(_text("inf", box.x + 12, y + 14, label))
    out.append("</g>")
    return "".join(out)


def _text(cls: str, x: float, y: float, text: str) -> str:
    return f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}">{escape(text)}</text>'


def _summary(boxes: dict[str, _Box], view: TableView, edges: list[Any]) -> str:
    n_cols = sum(len(b.rows) for b in boxes.values())
    return (
        f"{len(boxes)} tables, {n_cols} columns, {len(view.column_inputs)} column edges, "
        f"{len(edges)} lineage edges"
    )


def _edge_rows(edges: list[Any]) -> str:
    rows = []
    for e in edges:
        via = ", ".join(e.transforms) if e.transforms else ", ".join(e.files)
        rows.append(
            f"<tr><td>{e.depth}</td><td>{escape(e.source)}</td><td>{escape(e.target)}</td>"
            f"<td>{escape(via)}</td></tr>"
        )
    return "\n".join(rows) or '<tr><td colspan="4">no lineage edges</td></tr>'


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header>
<h1>{heading}</h1>
<p class="meta">{summary}. {source}</p>
</header>
<div class="legend">
<span><i class="direct"></i>value flows (DIRECT)</span>
<span><i class="indirect"></i>column-specific influence (CASE, window)</span>
<span><i class="table-edge"></i>table lineage</span>
<span>hover a column to follow it</span>
</div>
<div id="graph">
{svg}
</div>
<table class="edges">
<tr><th>depth</th><th>source</th><th>target</th><th>via</th></tr>
{edge_rows}
</table>
<script>{script}</script>
</body>
</html>
"""
