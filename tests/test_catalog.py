"""The corpus schema catalog and the fixpoint over a set of files."""

from __future__ import annotations

import itertools
import random

import orjson

from lineaged.catalog import Catalog, FileRecord, table_fingerprint
from lineaged.catalog.fixpoint import CorpusFile, settle
from lineaged.catalog.order import definition_order
from lineaged.extract import extract, schema_layer


def _extract(dialect: str = "postgres"):
    def one(f: CorpusFile, catalog):
        return extract(f.data, dialect, catalog=catalog)

    return one


def record(sql: str, catalog_slice=None, root: str = "r") -> FileRecord:
    lineage = extract(sql, "postgres", catalog=catalog_slice)
    return FileRecord.of(root, "sha", lineage)


def edges(lineage, statement: int = -1) -> set[tuple[str, str, str]]:
    s = lineage.statements[statement]
    return {(e.target, src, e.transform) for e in s.columns for src in e.sources}


def dump(results) -> bytes:
    return orjson.dumps({k: v.to_dict() for k, v in sorted(results.items())})


# -- extraction records what it depended on ------------------------------------------


def test_result_lists_definitions_in_column_order_with_types() -> None:
    lin = extract(
        "CREATE TABLE raw.o (id int, amount numeric(10,2), note text);"
        "CREATE VIEW stg.o AS SELECT note, id FROM raw.o",
        "postgres",
    )
    defs = {d.table: d for d in lin.defines}
    assert defs["raw.o"].columns == (("id", "INT"), ("amount", "DECIMAL(10, 2)"), ("note", "TEXT"))
    assert defs["stg.o"].columns == (("note", "UNKNOWN"), ("id", "UNKNOWN"))
    # Read from the file itself: no external lookups, nothing to depend on.
    assert defs["stg.o"].depends_on == ()
    assert lin.schema_used == ()


def test_lookups_are_recorded_hits_and_misses() -> None:
    lin = extract(
        "INSERT INTO rep.t SELECT * FROM a JOIN b ON a.id = b.id",
        "postgres",
        catalog={"a": {"id": "UNKNOWN", "x": "UNKNOWN"}},
    )
    assert lin.schema_used == ("a", "b", "rep.t")
    other = extract(
        "INSERT INTO rep.t SELECT * FROM a JOIN b ON a.id = b.id",
        "postgres",
        catalog={"a": {"id": "UNKNOWN", "y": "UNKNOWN"}},
    )
    assert other.schema_fingerprint != lin.schema_fingerprint


def test_unexpanded_star_defines_nothing_and_temps_never_define() -> None:
    lin = extract(
        "CREATE VIEW v AS SELECT *, 1 AS one FROM unknown_t;"
        "CREATE TEMP TABLE tmp AS SELECT a FROM s;"
        "CREATE TABLE keep AS SELECT a FROM tmp",
        "postgres",
    )
    assert [d.table for d in lin.defines] == ["keep"]


def test_star_except_and_replace_expand_from_the_catalog() -> None:
    cols = {"id": "UNKNOWN", "secret": "UNKNOWN", "amount": "UNKNOWN"}
    lin = extract(
        "CREATE VIEW d.v AS SELECT * EXCEPT (secret) REPLACE (amount * 2 AS amount) FROM d.t",
        "bigquery",
        catalog={"d.t": cols},
    )
    assert lin.defines[0].columns == (("id", "UNKNOWN"), ("amount", "UNKNOWN"))
    assert edges(lin) == {
        ("d.v.id", "d.t.id", "DIRECT/IDENTITY"),
        ("d.v.amount", "d.t.amount", "DIRECT/TRANSFORMATION"),
    }


def test_insert_without_column_list_uses_the_catalog() -> None:
    lin = extract(
        "INSERT INTO dw.t SELECT x, y FROM s",
        "postgres",
        catalog={"dw.t": {"a": "INT", "b": "INT"}},
    )
    assert edges(lin) == {
        ("dw.t.a", "s.x", "DIRECT/IDENTITY"),
        ("dw.t.b", "s.y", "DIRECT/IDENTITY"),
    }


# -- the catalog -----------------------------------------------------------------------


def test_conflicting_definitions_choose_typed_then_smallest_file_and_report() -> None:
    cat = Catalog()
    cat.update("r:b.sql", record("CREATE VIEW t AS SELECT 1 AS x, 2 AS y"))
    cat.update("r:c.sql", record("CREATE VIEW t AS SELECT 1 AS z"))
    assert cat.columns("t") == {"x": "UNKNOWN", "y": "UNKNOWN"}
    cat.update("r:z.sql", record("CREATE TABLE t (k int)"))
    assert cat.columns("t") == {"k": "INT"}
    (conflict,) = cat.conflicts()
    assert conflict.table == "t" and conflict.chosen == "r:z.sql"
    assert conflict.others == ("r:b.sql", "r:c.sql")
    # Same set of results, other arrival order: same choice.
    other = Catalog()
    for f, sql in [
        ("r:z.sql", "CREATE TABLE t (k int)"),
        ("r:c.sql", "CREATE VIEW t AS SELECT 1 AS z"),
        ("r:b.sql", "CREATE VIEW t AS SELECT 1 AS x, 2 AS y"),
    ]:
        other.update(f, record(sql))
    assert other.tables() == cat.tables()


def test_schema_file_takes_precedence_over_the_corpus() -> None:
    layer = schema_layer({"Sales.T": {"Fixed": "int"}}, "postgres")
    cat = Catalog(explicit={"r": layer})
    cat.update("r:a.sql", record("CREATE TABLE sales.t (other int)"))
    assert cat.columns("sales.t", "r") == {"fixed": "int"}
    assert cat.columns("sales.t", "elsewhere") == {"other": "INT"}


def test_update_reports_changed_tables_and_stale_dependants_only() -> None:
    cat = Catalog()
    assert cat.update("r:up.sql", record("CREATE TABLE up (a int)")) == {"up"}
    reader = record("CREATE VIEW down AS SELECT * FROM up", cat.slice_for(b"up"))
    cat.update("r:down.sql", reader)
    cat.update("r:other.sql", record("CREATE VIEW o AS SELECT z FROM unrelated"))
    assert cat.is_current("r:down.sql")
    # Same columns again: nothing changed, nobody stale.
    assert cat.update("r:up.sql", record("CREATE TABLE up (a int)")) == set()
    changed = cat.update("r:up.sql", record("CREATE TABLE up (a int, b int)"))
    assert changed == {"up"}
    assert cat.dependants(changed) == {"r:down.sql"}
    # Column order is part of a table's schema (it decides star and INSERT order).
    before = table_fingerprint((("a", "INT"), ("b", "INT")))
    assert before != table_fingerprint((("b", "INT"), ("a", "INT")))
    assert cat.update("r:up.sql", None) == {"up"}
    assert cat.columns("up") is None


def test_slice_carries_whole_last_part_groups() -> None:
    cat = Catalog()
    cat.update("r:1.sql", record("CREATE TABLE a.orders (x int)"))
    cat.update("r:2.sql", record("CREATE TABLE b.orders (y int)"))
    cat.update("r:3.sql", record("CREATE TABLE c.items (z int)"))
    piece = cat.slice_for(b"SELECT * FROM Orders")
    assert set(piece) == {"a.orders", "b.orders"}
    # `orders` is ambiguous in the whole catalog and so in the slice: same answer.
    lin = extract("CREATE VIEW v AS SELECT * FROM orders", "postgres", catalog=piece)
    assert cat.result_is_current("r", lin)


# -- the fixpoint ----------------------------------------------------------------------

CHAIN = {
    "a.sql": b"CREATE TABLE raw.orders (id int, amount numeric, cust int);",
    "b.sql": b"CREATE VIEW stg.orders AS SELECT * FROM raw.orders;",
    "c.sql": b"CREATE VIEW mart.big AS SELECT o.*, c.name FROM stg.orders o "
    b"JOIN raw.cust c ON o.cust = c.id;",
    "d.sql": b"INSERT INTO rep.t SELECT * FROM mart.big;",
    "e.sql": b"CREATE TABLE raw.cust (id int, name text);",
}


def corpus(files: dict[str, bytes], order=None) -> list[CorpusFile]:
    return [CorpusFile(f"r:{p}", "r", files[p]) for p in (order or files)]


def test_star_through_a_view_chain_across_files() -> None:
    out = settle(corpus(CHAIN), _extract())
    assert out.unsettled == [] and out.conflicts == []
    assert edges(out.results["r:d.sql"]) == {
        ("rep.t.id", "mart.big.id", "DIRECT/IDENTITY"),
        ("rep.t.amount", "mart.big.amount", "DIRECT/IDENTITY"),
        ("rep.t.cust", "mart.big.cust", "DIRECT/IDENTITY"),
        ("rep.t.name", "mart.big.name", "DIRECT/IDENTITY"),
    }
    assert ("mart.big.amount", "stg.orders.amount", "DIRECT/IDENTITY") in edges(
        out.results["r:c.sql"]
    )
    # Ordered definitions-first, each file is extracted exactly once.
    assert out.extractions == len(CHAIN)


def test_every_arrival_order_gives_the_same_results() -> None:
    dumps = set()
    for order in itertools.permutations(CHAIN):
        out = settle(corpus(CHAIN, order), _extract(), ordered=False)
        dumps.add(dump(out.results))
    assert len(dumps) == 1


def test_definition_order_puts_writers_first() -> None:
    texts = [CHAIN[p] for p in ("d.sql", "c.sql", "b.sql", "a.sql", "e.sql")]
    order = definition_order(texts)
    pos = {i: order.index(i) for i in range(5)}
    assert pos[3] < pos[2] < pos[1] < pos[0] and pos[4] < pos[1]


def test_a_cycle_terminates_without_columns_in_any_order() -> None:
    files = {
        "a.sql": b"CREATE VIEW a AS SELECT * FROM b;",
        "b.sql": b"CREATE VIEW b AS SELECT * FROM a;",
        "c.sql": b"CREATE VIEW c AS SELECT * FROM a;",
    }
    dumps = set()
    for order in itertools.permutations(files):
        out = settle(corpus(files, order), _extract(), ordered=False)
        assert out.unsettled == []
        assert all(not r.defines for r in out.results.values())
        dumps.add(dump(out.results))
    assert len(dumps) == 1


def test_self_reference_and_define_then_read_settle() -> None:
    files = {
        "self.sql": b"CREATE TABLE s AS SELECT * FROM s;",
        "both.sql": b"CREATE TABLE t (a int, b int); INSERT INTO t SELECT * FROM src;"
        b"CREATE VIEW u AS SELECT * FROM t;",
        "src.sql": b"CREATE TABLE src (x int, y int);",
    }
    for order in itertools.permutations(files):
        out = settle(corpus(files, order), _extract(), ordered=False)
        assert out.unsettled == []
        assert out.extractions <= 6
        both = out.results["r:both.sql"]
        assert ("t.a", "src.x", "DIRECT/IDENTITY") in edges(both, 1)
        assert {d.table for d in both.defines} == {"t", "u"}


def test_a_cycle_fed_from_outside_gets_columns_in_any_order() -> None:
    files = {
        "t.sql": b"CREATE VIEW t AS SELECT a FROM u;",
        "u.sql": b"CREATE VIEW u AS SELECT * FROM t;",
    }
    dumps = set()
    for order in itertools.permutations(files):
        out = settle(corpus(files, order), _extract(), ordered=False)
        assert out.unsettled == []
        dumps.add(dump(out.results))
    assert len(dumps) == 1


def test_shuffled_generated_tree_settles_to_one_result() -> None:
    files = {"base.sql": b"CREATE TABLE base (k int, v int);"}
    for i in range(12):
        up = "base" if i < 3 else f"t{i // 3 - 1}"
        files[f"t{i}.sql"] = f"CREATE VIEW t{i} AS SELECT * FROM {up};".encode()
    rng = random.Random(7)
    reference = dump(settle(corpus(files), _extract()).results)
    for _ in range(5):
        order = list(files)
        rng.shuffle(order)
        out = settle(corpus(files, order), _extract(), ordered=rng.random() < 0.5)
        assert dump(out.results) == reference


def test_a_reader_gets_the_definition_nearest_to_it_in_the_tree() -> None:
    """One repository, two databases reusing a table name: each reader expands the
    definition from its own directory, whatever the global choice is."""
    files = {
        "shop/schema.sql": b"CREATE TABLE customer (id int, email text);",
        "shop/report.sql": b"CREATE VIEW shop_view AS SELECT * FROM customer;",
        "crm/schema.sql": b"CREATE TABLE customer (customer_code text, name text);",
        "crm/report.sql": b"CREATE VIEW crm_view AS SELECT * FROM customer;",
    }
    out = settle(corpus(files), _extract())
    assert edges(out.results["r:shop/report.sql"]) == {
        ("shop_view.id", "customer.id", "DIRECT/IDENTITY"),
        ("shop_view.email", "customer.email", "DIRECT/IDENTITY"),
    }
    assert edges(out.results["r:crm/report.sql"]) == {
        ("crm_view.customer_code", "customer.customer_code", "DIRECT/IDENTITY"),
        ("crm_view.name", "customer.name", "DIRECT/IDENTITY"),
    }
    (conflict,) = out.conflicts
    assert conflict.chosen == "r:crm/schema.sql" and conflict.others == ("r:shop/schema.sql",)
    # A change to the definition a reader does not use still re-checks it, and only
    # the reader whose columns changed is stale.
    cat = Catalog()
    for f, lineage in out.results.items():
        cat.update(f, FileRecord.of("r", "sha", lineage))
    changed = cat.update(
        "r:shop/schema.sql", record("CREATE TABLE customer (id int, email text, vip bool)")
    )
    assert changed == {"customer"}
    assert cat.dependants(changed) == {"r:shop/report.sql"}


# -- start-up: bulk load and remembered fingerprints ----------------------------------


def _records() -> dict[str, FileRecord]:
    """Conflicting, typed and untyped definitions, readers nearest to one of two."""
    out = {
        "r:b.sql": record("CREATE VIEW t AS SELECT 1 AS x, 2 AS y"),
        "r:c.sql": record("CREATE VIEW t AS SELECT 1 AS z"),
        "r:z.sql": record("CREATE TABLE t (k int)"),
        "r:shop/schema.sql": record("CREATE TABLE customer (id int, email text)"),
        "r:crm/schema.sql": record("CREATE TABLE customer (customer_code text)"),
        "r:up.sql": record("CREATE TABLE up (a int)"),
    }
    out["r:down.sql"] = record("CREATE VIEW down AS SELECT * FROM up", {"up": {"a": "INT"}})
    out["r:shop/r.sql"] = record("CREATE VIEW v AS SELECT * FROM customer JOIN t ON true")
    return out


def test_load_builds_the_catalog_that_updates_in_any_order_build() -> None:
    records = _records()
    loaded = Catalog()
    loaded.load(records)
    for order in (sorted(records), sorted(records, reverse=True)):
        one_by_one = Catalog()
        for f in order:
            one_by_one.update(f, records[f])
        assert loaded.tables() == one_by_one.tables()
        assert loaded.conflicts() == one_by_one.conflicts()
        assert loaded.dependants({"t", "customer", "up"}) == one_by_one.dependants(
            {"t", "customer", "up"}
        )
        for f in records:
            assert loaded.is_current(f) == one_by_one.is_current(f), f
            assert loaded.slice_for(b"t customer up", reader=f) == one_by_one.slice_for(
                b"t customer up", reader=f
            )
    assert loaded.is_current("r:down.sql")


def test_load_needs_an_empty_catalog() -> None:
    cat = Catalog()
    cat.update("r:a.sql", record("CREATE TABLE a (x int)"))
    try:
        cat.load({"r:b.sql": record("CREATE TABLE b (y int)")})
    except ValueError:
        return
    raise AssertionError("load() into a filled catalog must refuse")


def test_remembered_fingerprints_follow_every_change() -> None:
    cat = Catalog()
    cat.load(_records())
    reader = ("up",)
    before = cat.fingerprint("r", reader, "r:down.sql")
    assert cat.fingerprint("r", reader, "r:other.sql") == before  # remembered, same answer
    cat.update("r:up.sql", record("CREATE TABLE up (a int, b int)"))
    after = cat.fingerprint("r", reader, "r:down.sql")
    assert after != before and not cat.is_current("r:down.sql")
    cat.set_explicit({"r": schema_layer({"up": {"q": "int"}}, "postgres")})
    assert cat.fingerprint("r", reader, "r:down.sql") not in (before, after)
    cat.set_explicit({})
    assert cat.fingerprint("r", reader, "r:down.sql") == after


def test_fingerprints_that_depend_on_the_reader_are_not_shared() -> None:
    """Two definitions of `customer`: each reader's fingerprint is its nearest one's."""
    cat = Catalog()
    cat.load(_records())
    shop = cat.fingerprint("r", ("customer",), "r:shop/r.sql")
    crm = cat.fingerprint("r", ("customer",), "r:crm/r.sql")
    assert shop != crm
    assert cat.fingerprint("r", ("customer",), "r:shop/r.sql") == shop
