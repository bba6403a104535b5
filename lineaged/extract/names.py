"""Name normalisation: one spelling per table and column, per dialect.

Identifiers are folded the way the dialect folds them (sqlglot's
`normalize_identifiers`: Postgres lower-cases, Snowflake upper-cases, quoted
identifiers keep their case), then joined with dots: `catalog.db.table`.
Default catalog/schema are added only where the SQL left them out, the same rule
sqlglot's `qualify_tables` applies to the tables inside queries, so targets and
sources always agree on a name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from lineaged.extract.datasets import is_path_name
from lineaged.qualified import quote_part


@dataclass(frozen=True, slots=True)
class Naming:
    """How one extraction call spells names: dialect plus configured defaults."""

    dialect: Dialect
    catalog: str | None = None
    db: str | None = None

    @classmethod
    def build(cls, dialect: Dialect, catalog: str | None, db: str | None) -> Naming:
        return cls(dialect, _norm_default(catalog, dialect), _norm_default(db, dialect))


def _norm_default(value: str | None, dialect: Dialect) -> str | None:
    if not value:
        return None
    ident = exp.parse_identifier(value, dialect=dialect)
    return normalize_identifiers(ident, dialect=dialect).name


def is_temp_name(name: str) -> bool:
    """T-SQL `#local` / `##global` temp tables and `@t` table variables are temporary
    by their name alone."""
    return name.startswith(("#", "@"))


def name_table_variables(tree: exp.Expr) -> exp.Expr:
    """T-SQL `FROM @t` / `INSERT INTO @t`: sqlglot puts a Parameter where a table's
    identifier goes, which every table walk skips (it is neither a table nor a table
    function to them). An unquoted identifier `@t` makes the table variable an
    ordinary, temporary-by-name table: folded like any name, never prefixed."""
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Parameter) and table.this.name:
            name = f"@{table.this.name}"
            table.set("this", exp.Identifier(this=name, quoted=False))
            if not table.alias and not isinstance(table.parent, exp.Schema | exp.Insert):
                # qualify_tables would alias it by re-parsing the name, which reads
                # `@t` back as a Parameter; an alias already there stops it.
                table.set("alias", exp.TableAlias(this=exp.Identifier(this=name, quoted=False)))
    return tree


def flatten_long_names(tree: exp.Expr) -> exp.Expr:
    """T-SQL four-part names `server.db.schema.table`: sqlglot keeps the last two parts
    as a Dot in the table's place, which table walks do not take for a table. Fold the
    server into the catalog instead (`server.db`, one quoted part: it is not re-folded
    later), so the table has an identifier and its name keeps all four parts."""
    for table in tree.find_all(exp.Table):
        dot = table.this
        if not isinstance(dot, exp.Dot) or not isinstance(dot.expression, exp.Identifier):
            continue
        if not isinstance(dot.this, exp.Identifier) or not table.args.get("catalog"):
            continue
        server, db = table.args["catalog"].name, table.args.get("db")
        table.set("catalog", exp.Identifier(this=f"{server}.{db.name if db else ''}", quoted=True))
        table.set("db", dot.this.copy())
        table.set("this", dot.expression.copy())
    return tree


def table_name(table: exp.Table, naming: Naming, *, normalized: bool = True) -> str:
    """Dotted, normalised name of `table`, with configured defaults filled in.

    `normalized=False` means the identifiers still carry the user's spelling and are
    folded here; tables that went through sqlglot's `qualify_tables` already are.
    """
    if not normalized:
        table = normalize_identifiers(table.copy(), dialect=naming.dialect)
    name = _ident_name(table.this)
    if table.this is not None and table.this.args.get("temporary") and not is_temp_name(name):
        name = "#" + name  # T-SQL `INTO #t` parses to a flagged `t`; FROM #t keeps the `#`
    if is_temp_name(name) or is_path_name(name):
        # A temp table lives in the session, not in any schema, and a file is no
        # table: never prefix either.
        return name
    db = table.text("db") or naming.db
    catalog = table.text("catalog") or (naming.catalog if db else None)
    # A schema or table part holding a dot is quoted, so `"a.b"` and `a.b` stay two
    # names. The catalog is not: flatten_long_names folds `server.db` into it on
    # purpose (four-part names keep all four parts).
    parts = [quote_part(p) for p in (db, name) if p]
    return ".".join([catalog, *parts] if catalog else parts)


def _ident_name(node: exp.Expr | None) -> str:
    if node is None:
        return ""
    return node.name if not isinstance(node, exp.Dot) else node.sql()


def column_name(name: str, naming: Naming) -> str:
    """Fold a bare column name (from a schema file or a DDL) like the dialect would."""
    ident = exp.to_identifier(name)
    if ident is None:
        return name
    return normalize_identifiers(ident, dialect=naming.dialect).name


def parse_table_key(key: str, naming: Naming) -> str:
    """Normalise a schema-file key such as `Sales.Orders` to the extractor's spelling."""
    try:
        table = exp.to_table(key, dialect=naming.dialect)
    except Exception:  # an odd key must not sink the whole schema file
        return key
    return table_name(table, naming, normalized=False)
