"""A chunk's tokens -> one normalised sqlglot tree (or None for an empty statement)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from lineaged.extract.datasets import mark_datasets
from lineaged.extract.names import flatten_long_names, name_table_variables
from lineaged.extract.rewrite import rewrite_tsql
from lineaged.extract.split import Chunk

if TYPE_CHECKING:
    from lineaged.extract.context import FileContext


def parse(chunk: Chunk, ctx: FileContext) -> exp.Expr | None:
    parser = ctx.dialect.parser(**ctx.parser_opts)
    # The statement's text gates the rewrites below: a search in C is far cheaper than
    # another walk over a large tree (a 10,000-row VALUES) that has nothing to rewrite.
    text = chunk.text() if chunk.tokens else ""
    tokens = rewrite_tsql(chunk.tokens, text) if ctx.tsql else chunk.tokens
    trees = [t for t in parser.parse(tokens, chunk.sql) if t is not None]
    if not trees:
        return None
    tree = mark_datasets(trees[0], type(ctx.dialect).__name__)
    if ctx.tsql:
        tree = name_table_variables(tree)
    tree = normalize_identifiers(tree, dialect=ctx.dialect)
    if text.count(".") >= 3:
        flatten_long_names(tree)
    if type(ctx.dialect).__name__ in IMPLICIT_RECURSION and _WITH.search(text):
        mark_recursive_ctes(tree)
    return _unbind_variables(tree, ctx.variables) if ctx.variables else tree


def _unbind_variables(tree: exp.Expr, variables: set[str]) -> exp.Expr:
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name in variables:
            column.replace(exp.Var(this=column.name))
    return tree


# Dialects where a CTE may refer to itself without the RECURSIVE keyword. (In Postgres
# a CTE's own name inside its body means an outer table of that name, so not there.)
IMPLICIT_RECURSION = frozenset({"TSQL", "Fabric", "Oracle", "Snowflake"})
_WITH = re.compile(r"\bWITH\b", re.IGNORECASE)


def mark_recursive_ctes(tree: exp.Expr) -> None:
    """Flag `WITH r AS (anchor UNION ALL ... JOIN r ...)` as recursive, as sqlglot's
    scopes need to resolve `r` inside its own body to the CTE instead of a table."""
    for with_ in tree.find_all(exp.With):
        if with_.args.get("recursive"):
            continue
        for cte in with_.expressions:
            body = cte.this
            if isinstance(body, exp.SetOperation) and any(
                t.name == cte.alias and not t.db for t in body.find_all(exp.Table)
            ):
                with_.set("recursive", True)
                break
