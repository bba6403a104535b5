"""Plans for statements sqlglot keeps only as an opaque `Command` but whose lineage is
plain from their text: Redshift `UNLOAD ('query') TO 'location'` and Hive/Spark
`ALTER TABLE a EXCHANGE PARTITION (...) WITH TABLE b`."""

from __future__ import annotations

import re

from sqlglot import exp, parse_one
from sqlglot.dialects.dialect import Dialect
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from lineaged.extract.datasets import path_table
from lineaged.extract.plan import Plan

_UNLOAD = re.compile(r"^\s*\(\s*'((?:[^']|'')*)'\s*\)\s*TO\s+'((?:[^']|'')*)'", re.I | re.S)
_EXCHANGE = re.compile(
    r"^\s*TABLE\s+(\S+)\s+EXCHANGE\s+PARTITION\s*\(.*?\)\s*WITH\s+TABLE\s+(\S+?)\s*;?\s*$",
    re.I | re.S,
)


def plan_command(stmt: exp.Command, dialect: Dialect) -> Plan | None:
    """A Plan for the commands above, None for any other command."""
    head = stmt.name.upper()
    body = stmt.expression  # a Literal (UNLOAD) or the raw text (ALTER)
    text = body.name if isinstance(body, exp.Expr) else str(body or "")
    if head == "UNLOAD" and (m := _UNLOAD.match(text)):
        query = _normalized(parse_one(m.group(1).replace("''", "'"), dialect=dialect), dialect)
        target = path_table(m.group(2).replace("''", "'"))
        return Plan("unload", target=target, query=query)
    if head == "ALTER" and (m := _EXCHANGE.match(text)):
        into, out_of = (_normalized(exp.to_table(n, dialect=dialect), dialect) for n in m.groups())
        return Plan("alter_exchange", target=into, renamed_from=out_of)
    return None


def _normalized(tree: exp.Expr, dialect: Dialect) -> exp.Expr:
    return normalize_identifiers(tree, dialect=dialect)
