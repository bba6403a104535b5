"""What a statement's first words say about it, before and after parsing.

- Some statements never move table data (assignments, permissions, sessions, backups,
  server objects): they are `other` whatever sqlglot makes of them, so they are not
  parsed at all and never carry a parse error.
- A statement that starts like DDL/DML but that sqlglot could only keep as an opaque
  `Command` has lineage we did not extract: that is reported, never silently `other`.
"""

from __future__ import annotations

from sqlglot.tokens import Token, TokenType

from lineaged.extract.split import word

# First words of statements without lineage.
NO_LINEAGE_WORDS = frozenset(
    {"SET", "GRANT", "DENY", "REVOKE", "RESTORE", "BACKUP", "DBCC", "CHECKPOINT", "KILL"}
    | {"RECONFIGURE", "SHUTDOWN", "COMMIT", "ROLLBACK", "SAVE", "ANALYZE", "VACUUM"}
    | {"EXPLAIN", "SHOW", "DESCRIBE", "DESC", "COMMENT", "REFRESH", "MSCK", "OPTIMIZE"}
    # EXEC runs a procedure or a string: what it reads and writes is not in the SQL.
    | {"EXEC", "EXECUTE", "CALL"}
)
# `CREATE|ALTER|DROP <object>` for objects that hold no table data of their own.
NO_LINEAGE_OBJECTS = frozenset(
    {"DATABASE", "LOGIN", "USER", "ROLE", "INDEX", "STATISTICS", "SCHEMA", "SEQUENCE"}
    | {"ASSEMBLY", "CERTIFICATE", "CREDENTIAL", "ENDPOINT", "EVENT", "FULLTEXT", "MASTER"}
    | {"PARTITION", "QUEUE", "SERVICE", "SYMMETRIC", "ASYMMETRIC", "SYNONYM", "TYPE"}
    | {"WAREHOUSE", "STAGE", "FILE", "SECURITY", "AVAILABILITY", "RESOURCE", "SERVER"}
    | {"WORKLOAD", "XML", "COLUMNSTORE", "CLUSTERED", "NONCLUSTERED", "PRIMARY"}
    | {"SPATIAL", "BROKER", "MESSAGE", "CONTRACT", "ROUTE", "REMOTE", "APPLICATION"}
    | {"EXTENSION", "POLICY", "ROW", "INTEGRATION", "NETWORK", "API"}
)
_CREATE_LIKE = frozenset({"CREATE", "ALTER", "DROP"})
_MODIFIERS = frozenset({"OR", "REPLACE", "ALTER", "IF", "NOT", "EXISTS", "UNIQUE"})
# Heads of statements with lineage: sqlglot's opaque Command for one of these means
# the lineage was not extracted.
DATA_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "WITH", "REPLACE"})
DATA_OBJECTS = frozenset({"TABLE", "VIEW"})


def _words(tokens: list[Token], n: int) -> list[str]:
    return [word(t) for t in tokens[:n]]


def has_no_lineage(tokens: list[Token]) -> bool:
    """True for statements that can never read or write table data."""
    if not tokens:
        return True
    words = _words(tokens, 6)
    head = words[0]
    if head in NO_LINEAGE_WORDS:
        return True
    if head == "UPDATE" and len(words) > 1 and words[1] == "STATISTICS":
        return True
    if head in _CREATE_LIKE:
        rest = [w for w in words[1:] if w not in _MODIFIERS]
        return bool(rest) and rest[0] in NO_LINEAGE_OBJECTS
    return False


def looks_like_data_statement(tokens: list[Token]) -> bool:
    """Starts like DDL/DML that has lineage (INSERT ..., CREATE [OR REPLACE] TABLE ...)."""
    if not tokens:
        return False
    words = _words(tokens, 8)
    if words[0] in DATA_WORDS:
        return True
    if words[0] == "CREATE":
        return any(w in DATA_OBJECTS for w in words[1:])
    if words[0] == "ALTER" and "TABLE" in words:
        # Most ALTER TABLE forms change no data; these move it between tables.
        return any(word(t) in {"RENAME", "SWAP", "EXCHANGE"} for t in tokens)
    return False


def is_use(tokens: list[Token]) -> bool:
    return bool(tokens) and tokens[0].token_type == TokenType.USE
