"""A chunk's tokens -> one normalised sqlglot tree (or None for an empty statement)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from lineaged.extract.names import name_table_variables
from lineaged.extract.split import Chunk

if TYPE_CHECKING:
    from lineaged.extract.context import FileContext


def parse(chunk: Chunk, ctx: FileContext) -> exp.Expr | None:
    parser = ctx.dialect.parser(**ctx.parser_opts)
    trees = [t for t in parser.parse(chunk.tokens, chunk.sql) if t is not None]
    if not trees:
        return None
    tree = trees[0]
    if ctx.table_variables:
        tree = name_table_variables(tree)
    tree = normalize_identifiers(tree, dialect=ctx.dialect)
    return _unbind_variables(tree, ctx.variables) if ctx.variables else tree


def _unbind_variables(tree: exp.Expr, variables: set[str]) -> exp.Expr:
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name in variables:
            column.replace(exp.Var(this=column.name))
    return tree
