"""Table-level sources: the base tables a query reads, CTEs and subqueries resolved away.

sqlglot's scopes already tell a CTE or derived-table reference (a Scope) from a real
table (an exp.Table); walking every scope once collects the real ones, including the
tables read by subqueries in WHERE, SELECT and ON clauses.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from lineaged.extract.names import Naming, table_name


def source_tables(root: Scope, naming: Naming) -> set[str]:
    found: set[str] = set()
    for scope in root.traverse():
        for source in scope.sources.values():
            # `this` is not an identifier for table functions such as generate_series(...)
            if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
                found.add(table_name(source, naming))
    return found
