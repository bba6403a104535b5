"""Every Cypher statement the writer runs. Data always travels as parameters.

Each query is named so that slow-transaction warnings and the EXPLAIN test can point
at it. A file's replace is: delete its column edges and statements (collecting what
they touched), upsert the File, create statements and edges, then drop Column and
Table nodes nothing refers to any more.

Graph model 2 (see README "Graph model"): a column's own edges are DERIVES_FROM;
statement-wide influence (joins, filters, grouping, sorting) is stated once per
statement, `(:Statement)-[:INFLUENCED_BY {transform}]->(:Column)`, and applies to the
columns the statement writes, `(:Column)-[:WRITTEN_BY]->(:Statement)`. The order
makes a replace correct whatever else is in the same transaction.
"""

from __future__ import annotations

from typing import Final

# A replace is three statements, each a sequence of CALL subqueries: every query costs
# a Bolt round trip and per-query work in the server (~3 ms here), and a live edit's
# latency is mostly that. Each subquery UNWINDs its own list, so an empty list is a
# no-op, and later subqueries see the writes of earlier ones.
#
# Their lists arrive in ONE map parameter, `$p`: Neo4j caches a plan per query text
# and parameter types, and a list's type is its elements' (an empty list is another
# type), so separate list parameters made every new empty/non-empty combination plan
# the query again, 0.3-2.7 s on this machine under load, inside whichever transaction
# met it first (a live edit's, often). A map's type is just MAP: one plan per query,
# made by the writer's warm-up.

# Phase 1: forget what the files contributed; report what it touched.
# The hints: on a graph of ~150 files the planner preferred scanning each index and
# filtering per row, and `replan=skip` would keep that plan while the graph grows
# (tests/integration/test_writer_plans_by_size.py).
DELETE_OLD: Final = """
CALL () {
  UNWIND $p.delete_ids AS id
  MATCH (a:Column)-[r:DERIVES_FROM {file: id}]->(b:Column)
  USING INDEX SEEK r:DERIVES_FROM(file)
  DELETE r
  RETURN collect(DISTINCT a.id) + collect(DISTINCT b.id) AS edge_columns
}
CALL () {
  UNWIND $p.delete_ids AS id
  MATCH (f:File {id: id})-[:CONTAINS]->(s:Statement)
  USING INDEX SEEK f:File(id)
  OPTIONAL MATCH (s)-[:READS|WRITES|INFLUENCED_BY|WRITTEN_BY]-(n)
  WITH s, collect(n) AS touched
  DETACH DELETE s
  WITH touched UNWIND touched AS n
  RETURN collect(DISTINCT CASE WHEN n:Table THEN n.name END) AS tables,
         collect(DISTINCT CASE WHEN n:Column THEN n.id END) AS statement_columns
}
CALL () {
  UNWIND $p.removed_ids AS id
  MATCH (f:File {id: id})
  DETACH DELETE f
}
RETURN edge_columns + statement_columns AS columns, tables
"""

# Phase 2: write the new lineage. Each File, Statement, Table and Column node is made
# (MERGEd or CREATEd) once and collected into a list in the order of its rows; every
# edge then takes its ends from those lists by position (rows.WriteRows). In a rebuild
# of the bench's 20k files, seeking each edge's ends by id instead (a statement ~15
# times per file, a column per edge, a table per column) was ~30 % of Neo4j's CPU,
# every seek a descent of a string-keyed index: this shape cut Neo4j's CPU by ~25 %
# (tests/bench/bench_rebuild.py).
# Rows are lists read by position (`f[0]`), and columns and their edges parallel lists
# (`c[0][i]`), laid out as rows.py's constants say: a map per row sent every key as a
# string, which Neo4j's Bolt thread decoded and Cypher looked up by name, row after
# row (bench_rebuild, 20k files: Bolt threads 8.1-8.2 CPU s instead of 8.6-9.0). A
# string that another row already holds is taken from there, not sent again: a
# Statement's and a column edge's `file` is its file row's id, a column edge's
# `statement` its statement row's id, a Column's `table` its table's name; a File's
# root, dialect, extractor version and graph model come from `file_meta`, a transform
# from `transforms`.
# `ORDER BY i` before each collect: Cypher promises row order only after ORDER BY, and
# a position must never name another node.
# A held node that another transaction deletes meanwhile (DROP_ORPHANS, after removing
# a column's last reference) cannot be joined silently: CREATE of a relationship to a
# deleted node fails the statement, and the writer runs it again
# (errors.ErrorKind.CONFLICT), MERGEing the column anew. Tables and columns are MERGEd
# in sorted order and edges CREATEd in the order of the shared node they lock (rows.py).
# A statement is always new here, so its READS/WRITES edges are CREATEd (the rows hold
# each (statement, table, rel) once): a MERGE of a dynamic-type relationship was
# planned on an empty graph as a scan of ALL relationships per row, and with the
# writer's `replan=skip` that plan stayed while the graph grew (bench_scale: a 10k-file
# cold ingest slowed to a crawl).
WRITE_NEW: Final = """
CALL () {
  UNWIND range(0, size($p.files) - 1) AS i
  WITH $p.files[i] AS f, i
  WITH f, $p.file_meta[f[5]] AS m, i
  MERGE (n:File {id: f[0]})
  SET n.root = m[0], n.path = f[1], n.sha256 = f[2], n.dialect = m[1],
      n.extractor_version = m[2], n.graph_model = m[3], n.error = f[4],
      n.failed_sha256 = f[3], n.ingested_at = datetime()
  WITH n ORDER BY i
  RETURN collect(n) AS file_nodes
}
CALL (file_nodes) {
  UNWIND range(0, size($p.statements) - 1) AS i
  WITH $p.statements[i] AS s, i
  WITH file_nodes[s[1]] AS f, s, i
  CREATE (f)-[:CONTAINS]->(n:Statement {id: s[0], file: $p.files[s[1]][0], index: s[2],
                                       line: s[3], kind: s[4], error: s[5]})
  WITH n ORDER BY i
  RETURN collect(n) AS statement_nodes
}
CALL () {
  UNWIND range(0, size($p.tables) - 1) AS i
  MERGE (n:Table {name: $p.tables[i]})
  WITH n ORDER BY i
  RETURN collect(n) AS table_nodes
}
CALL (statement_nodes, table_nodes) {
  UNWIND $p.table_edges AS e
  WITH statement_nodes[e[2]] AS s, table_nodes[e[0]] AS t, e
  CREATE (s)-[:$(e[1])]->(t)
}
CALL (statement_nodes, table_nodes) {
  WITH $p.columns AS c
  UNWIND range(0, size(c[0]) - 1) AS i
  WITH table_nodes[c[1][i]] AS t, c, i
  MERGE (n:Column {id: c[0][i]})
    ON CREATE SET n.name = c[2][i], n.table = $p.tables[c[1][i]]
  MERGE (t)-[:HAS_COLUMN]->(n)
  WITH n, c, i
  CALL (n, c, i, statement_nodes) {
    UNWIND range(c[3][i], c[3][i + 1] - 1) AS w
    WITH statement_nodes[c[4][w]] AS s, n
    CREATE (n)-[:WRITTEN_BY]->(s)
  }
  WITH n ORDER BY i
  RETURN collect(n) AS column_nodes
}
CALL (column_nodes) {
  WITH $p.column_edges AS e
  UNWIND range(0, size(e[0]) - 1) AS i
  WITH column_nodes[e[0][i]] AS tc, column_nodes[e[1][i]] AS sc, $p.statements[e[2][i]] AS s,
       e[3][i] AS x
  CREATE (tc)-[:DERIVES_FROM {file: $p.files[s[1]][0], statement: s[0],
                              transform: $p.transforms[x]}]->(sc)
}
CALL (statement_nodes, column_nodes) {
  WITH $p.influences AS e
  UNWIND range(0, size(e[0]) - 1) AS i
  WITH statement_nodes[e[1][i]] AS s, column_nodes[e[0][i]] AS sc, e[2][i] AS x
  CREATE (s)-[:INFLUENCED_BY {transform: $p.transforms[x]}]->(sc)
}
"""

# Phase 3: drop Column, then Table nodes that nothing refers to any more. Each
# candidate is locked (a property write takes the node's exclusive lock, held to
# commit) BEFORE its check: two transactions removing the last two references to one
# shared node then check one after the other, and the second sees the first's
# deletion committed. Without the lock each saw the other's reference still there and
# neither deleted the node (write skew; issue 13's orphaned `dim` tables). Candidates
# come sorted, so the locks are taken in one global order.
DROP_ORPHANS: Final = """
CALL (orphan_columns) {
  UNWIND orphan_columns AS id
  MATCH (c:Column {id: id})
  SET c._lock = true
  REMOVE c._lock
  WITH c
  WHERE NOT EXISTS { (c)-[:DERIVES_FROM|INFLUENCED_BY|WRITTEN_BY]-() }
  WITH c, c.table AS table
  DETACH DELETE c
  RETURN collect(DISTINCT table) AS column_tables
}
CALL (orphan_tables, column_tables) {
  UNWIND orphan_tables + column_tables AS name
  WITH DISTINCT name ORDER BY name
  MATCH (t:Table {name: name})
  SET t._lock = true
  REMOVE t._lock
  WITH t
  WHERE NOT EXISTS { (t)<-[:READS|WRITES]-() } AND NOT EXISTS { (t)-[:HAS_COLUMN]->() }
  DELETE t
}
"""
# The candidates as parameters (the writer sorts them).
DELETE_ORPHANS: Final = (
    "WITH $p.orphan_columns AS orphan_columns, $p.orphan_tables AS orphan_tables" + DROP_ORPHANS
)

# A whole replace in ONE statement, composed of the three above (a live edit: one
# statement sent as an auto-commit transaction is one round trip instead of five --
# BEGIN, three statements, COMMIT). DELETE_OLD's candidates join the known ones,
# sorted here as the writer sorts them for DELETE_ORPHANS.
REPLACE_FILES: Final = (
    "CALL () {"
    + DELETE_OLD
    + "}\nCALL () {"
    + WRITE_NEW
    + "}\nWITH COLLECT { UNWIND $p.orphan_columns + columns AS id\n"
    "                RETURN DISTINCT id ORDER BY id } AS orphan_columns,\n"
    "     $p.orphan_tables + tables AS orphan_tables" + DROP_ORPHANS
)

# A File written under another graph model reads back without an extractor version,
# so reconcile and the pipeline treat it as stale and rewrite it (schema.GRAPH_MODEL).
FILE_STATES: Final = """
UNWIND $ids AS id
MATCH (f:File {id: id})
RETURN f.id AS id, f.sha256 AS sha256, f.failed_sha256 AS failed_sha256,
       CASE WHEN f.graph_model = $graph_model THEN f.extractor_version END
         AS extractor_version
"""

# One record holding a list per file: the driver decodes a list of lists several
# times faster than as many records (a warm restart lists every file of a root).
ROOT_FILES: Final = """
MATCH (f:File)
WHERE f.root = $root
RETURN collect([f.path, f.sha256,
                CASE WHEN f.graph_model = $graph_model THEN f.extractor_version END,
                f.failed_sha256]) AS files
"""

# Start-up sweep (reconcile): every Table/Column nothing refers to, whatever left it
# (a crash between versions that had no lock, a bug, a hand edit). A label scan by
# nature, run once per start and never on the write path; the candidates then go
# through DELETE_ORPHANS, which locks and re-checks each one.
ORPHAN_CANDIDATES: Final = """
CALL () {
  MATCH (c:Column)
  WHERE NOT EXISTS { (c)-[:DERIVES_FROM|INFLUENCED_BY|WRITTEN_BY]-() }
  RETURN collect(c.id) AS columns
}
CALL () {
  MATCH (t:Table)
  WHERE NOT EXISTS { (t)<-[:READS|WRITES]-() } AND NOT EXISTS { (t)-[:HAS_COLUMN]->() }
  RETURN collect(t.name) AS tables
}
RETURN columns, tables
"""

# name -> query, for EXPLAIN tests and slow-transaction warnings.
WRITE_QUERIES: Final = {
    "delete_old": DELETE_OLD,
    "write_new": WRITE_NEW,
    "delete_orphans": DELETE_ORPHANS,
    "replace_files": REPLACE_FILES,
}
READ_QUERIES: Final = {"file_states": FILE_STATES, "root_files": ROOT_FILES}

# The graph's identity and its count store (graph/fingerprint.py): node counts per
# label, relationship counts per type and per (label, type) / (type, label), each an
# O(1) read, whatever the size of the graph. Decides whether the start-up sweep can be
# skipped (orphan_policy.py); Community Neo4j has no readable last transaction id.
GRAPH_FINGERPRINT: Final = """
CALL db.info() YIELD id, creationDate
CALL db.stats.retrieve('GRAPH COUNTS') YIELD data
RETURN id, creationDate, data.nodes AS nodes, data.relationships AS relationships
"""
