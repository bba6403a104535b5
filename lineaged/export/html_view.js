(function () {
  const svg = document.getElementById("lineage");
  const edges = Array.from(svg.querySelectorAll("path.edge"));
  const up = {}, down = {};
  for (const e of edges) {
    (down[e.dataset.from] = down[e.dataset.from] || []).push(e);
    (up[e.dataset.to] = up[e.dataset.to] || []).push(e);
  }
  function walk(id, index, key, seen) {
    for (const e of index[id] || []) {
      if (seen.has(e)) continue;
      seen.add(e);
      walk(e.dataset[key], index, key, seen);
    }
    return seen;
  }
  for (const col of svg.querySelectorAll("g.col")) {
    col.addEventListener("mouseenter", () => {
      const chain = walk(col.dataset.id, up, "from", walk(col.dataset.id, down, "to", new Set()));
      for (const e of chain) e.classList.add("hl");
      svg.classList.add("focus");
    });
    col.addEventListener("mouseleave", () => {
      for (const e of svg.querySelectorAll("path.edge.hl")) e.classList.remove("hl");
      svg.classList.remove("focus");
    });
  }
  // For tests and for anyone checking: how many boxes and edges actually got laid out
  // (a box with an area, a curve with a length; a horizontal curve has no bbox height).
  const boxes = Array.from(svg.querySelectorAll("g.table"))
    .filter((n) => { const b = n.getBBox(); return b.width > 0 && b.height > 0; });
  const curves = edges.filter((e) => e.getTotalLength() > 0);
  document.body.dataset.renderedTables = boxes.length;
  document.body.dataset.renderedEdges = curves.length;
})();
