"""Split a file into statements with sqlglot's tokenizer, once.

The file is tokenized a single time; each statement is handed to the parser as its
slice of tokens (sqlglot parses a long script far slower whole than split: its
issue #1404). Boundaries are `;`, T-SQL `GO` lines, and — in T-SQL, where `;` is
optional — the keyword that opens the next statement. Procedural wrappers are
flattened so the statements inside them are extracted one by one:

- `CREATE PROCEDURE/FUNCTION/TRIGGER ... AS|BEGIN`: the header is dropped, the body
  is split like top-level text; a quoted or `$$` body is tokenized and split in turn
  unless its LANGUAGE is not SQL (JavaScript, Python, ...).
- `BEGIN ... END` blocks, `IF ... THEN`, `ELSE`, `LOOP`, `END IF`: the block syntax
  becomes a boundary; control-flow heads become `control` chunks (kind `other`,
  not parsed, no error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import attrgetter

from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Token, TokenType

T = TokenType

# Words that open a control-flow head or a procedural statement with no lineage.
CONTROL_WORDS = frozenset(
    [
        "IF",
        "ELSIF",
        "ELSEIF",
        "WHILE",
        "LOOP",
        "REPEAT",
        "FOR",
        "FOREACH",
        "DECLARE",
        "RETURN",
        "RAISE",
        "RAISERROR",
        "THROW",
        "PRINT",
        "LEAVE",
        "ITERATE",
        "EXIT",
        "CONTINUE",
        "BREAK",
        "GOTO",
        "EXCEPTION",
        "OPEN",
        "FETCH",
        "CLOSE",
        "DEALLOCATE",
        "WAITFOR",
        "CASE",
        "WHEN",
        "ELSE",
        "UNTIL",
    ]
)
# Words after END that close a control-flow block rather than a BEGIN.
END_SUFFIXES = frozenset(["IF", "LOOP", "WHILE", "REPEAT", "FOR", "CASE", "TRY", "CATCH"])
# BEGIN followed by these starts a transaction, not a block.
TRANSACTION_WORDS = frozenset(
    [
        "TRANSACTION",
        "TRAN",
        "WORK",
        "DISTRIBUTED",
        "ISOLATION",
        "READ",
        "DEFERRED",
        "IMMEDIATE",
        "EXCLUSIVE",
    ]
)
ROUTINE_WORDS = frozenset({"PROC", "PROCEDURE", "FUNCTION", "TRIGGER"})
SQL_LANGUAGES = frozenset({"SQL", "PLPGSQL", "TSQL", "PLSQL", "SNOWFLAKE"})
STRING_TYPES = frozenset({T.STRING, T.HEREDOC_STRING, T.RAW_STRING})

# T-SQL: a token of one of these types at nesting depth 0 opens a new statement
# (semicolons are optional there), except in the positions `_continues` lists.
TSQL_STARTERS = frozenset(
    {T.INSERT, T.UPDATE, T.DELETE, T.MERGE, T.CREATE, T.DROP, T.ALTER, T.SELECT, T.WITH}
    | {T.TRUNCATE, T.DECLARE, T.SET, T.USE, T.COMMAND, T.EXECUTE}
)
TSQL_STARTER_WORDS = frozenset(
    {"IF", "WHILE", "RETURN", "PRINT", "RAISERROR", "THROW", "GRANT", "DENY", "REVOKE"}
    | {"COMMIT", "ROLLBACK", "DBCC", "BULK", "CHECKPOINT", "OPEN", "CLOSE", "DEALLOCATE"}
    | {"FETCH", "BREAK", "CONTINUE", "WAITFOR"}
)
MAIN_STATEMENT = frozenset({T.SELECT, T.INSERT, T.UPDATE, T.DELETE, T.MERGE})
# `DROP TABLE IF EXISTS`, `CREATE SCHEMA IF NOT EXISTS`: the IF after these words is
# part of the statement, not a control-flow IF opening the next one.
OBJECT_WORDS = frozenset(
    {"TABLE", "VIEW", "SCHEMA", "PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "INDEX"}
    | {"TYPE", "SEQUENCE", "SYNONYM", "DATABASE", "USER", "ROLE", "COLUMN", "CONSTRAINT"}
    | {"LOGIN", "ASSEMBLY", "DEFAULT", "RULE", "STATISTICS", "EXTERNAL", "SECURITY", "POLICY"}
)
# GRANT/DENY/REVOKE list privileges named like statements (SELECT, EXECUTE, ...)
# before their ON/TO.
PERMISSION_WORDS = frozenset({"GRANT", "DENY", "REVOKE"})
SET_OPS = frozenset({T.UNION, T.EXCEPT, T.INTERSECT, T.ALL, T.DISTINCT, T.L_PAREN})


@dataclass(slots=True)
class Chunk:
    """One statement's tokens, with where they sit in the file.

    `sql` is the text the token offsets refer to (the file, or a routine body);
    `line_base`/`col_base` shift a body's positions back to file positions.
    """

    tokens: list[Token]
    sql: str
    control: bool = False
    line_base: int = 0
    col_base: int = 0
    error: str | None = field(default=None)

    @property
    def line(self) -> int:
        return self.tokens[0].line + self.line_base if self.tokens else 1 + self.line_base

    def text(self) -> str:
        return self.sql[self.tokens[0].start : self.tokens[-1].end + 1]

    def position(self, line: int, col: int) -> tuple[int, int]:
        """File line/column of a position that is relative to `sql`."""
        return line + self.line_base, col + (self.col_base if line == 1 else 0)


def word(tok: Token | None) -> str:
    if tok is None or tok.token_type in (T.IDENTIFIER, T.STRING):
        return ""
    return tok.text.upper()


# `GO` (optionally `GO <count>`) alone on a line ends a T-SQL batch. Like sqlcmd and
# SSMS we split on it textually, before tokenizing: the tokenizer treats GO as a
# command and swallows what follows it on the line.
GO_LINE = re.compile(r"^[ \t]*GO(?:[ \t]+\d+)?[ \t]*(?:--[^\n]*)?$", re.IGNORECASE | re.MULTILINE)


# Oracle (SQL*Plus, SQLcl): `/` alone on a line runs the block before it, like `;`.
SLASH_LINE = re.compile(r"^[ \t]*/[ \t]*$", re.MULTILINE)


def split(sql: str, dialect: Dialect, *, _depth: int = 0) -> list[Chunk]:
    """Statements of `sql` in order. Raises sqlglot's TokenError on untokenizable text."""
    if type(dialect).__name__ == "Oracle" and "/" in sql:
        # Same length, so every token offset still points into the original text.
        sql = SLASH_LINE.sub(lambda m: m.group(0).replace("/", ";"), sql)
    if not _is_tsql(dialect) or not GO_LINE.search(sql):
        return _Splitter(dialect.tokenize(sql), sql, dialect, _depth).run()
    chunks: list[Chunk] = []
    line = 0
    for batch in GO_LINE.split(sql):
        if batch.strip():
            for c in _Splitter(dialect.tokenize(batch), batch, dialect, _depth).run():
                c.line_base += line
                chunks.append(c)
        line += batch.count("\n")
    return chunks


def _is_tsql(dialect: Dialect) -> bool:
    return type(dialect).__name__.upper() in {"TSQL", "FABRIC"}


class _Splitter:
    def __init__(self, tokens: list[Token], sql: str, dialect: Dialect, depth: int) -> None:
        self.toks = tokens
        self.sql = sql
        self.dialect = dialect
        self.depth = depth
        self.tsql = _is_tsql(dialect)
        self.chunks: list[Chunk] = []
        self.cur: list[Token] = []
        self.paren = 0
        self.case = 0
        # A `WITH` list was opened and its main statement has not started yet.
        self.cte_pending = False
        # An INSERT is waiting for its SELECT / VALUES / EXEC.
        self.insert_pending = False

    def flush(self, *, control: bool = False) -> None:
        if self.cur:
            head = word(self.cur[0])
            control = control or (head in CONTROL_WORDS and head not in {"CASE", "WITH"})
            self.chunks.append(Chunk(self.cur, self.sql, control=control))
        self.cur = []
        self.paren = 0
        self.case = 0
        self.cte_pending = False
        self.insert_pending = False

    def peek(self, i: int) -> Token | None:
        return self.toks[i] if 0 <= i < len(self.toks) else None

    def run(self) -> list[Chunk]:
        if not self._run_plain():
            self.chunks = []
            i, n = 0, len(self.toks)
            while i < n:
                i = self.step(i)
            self.flush()
        return self._expand_string_bodies()

    def _run_plain(self) -> bool:
        """Fast path for plain SQL (most files): no block or routine syntax anywhere,
        so statements end exactly at `;` and `step()`'s per-token state machine would
        find the same boundaries. Returns False (nothing kept) when the file needs it.
        The checks run in C (regex over the text, list/set scans over token types)."""
        if self.tsql or _BLOCK_SYNTAX.search(self.sql):
            return False
        types = list(map(_TOKEN_TYPE, self.toks))
        if any(t in types for t in _SPECIAL_TYPES):  # `in` on a list: identity, in C
            return False
        start, n = 0, len(types)
        while start < n:
            try:
                end = types.index(T.SEMICOLON, start)
            except ValueError:
                end = n
            if end > start and not self._plain_chunk(start, end):
                return False
            start = end + 1
        return True

    def _plain_chunk(self, start: int, end: int) -> bool:
        # A control head (IF ... THEN, CASE ... WHEN as a statement, FOR ... DO) is
        # split further by step(): leave such files to it.
        if word(self.toks[start]) in CONTROL_WORDS:
            return False
        self.cur = self.toks[start:end]
        self.flush()
        return True

    def step(self, i: int) -> int:
        tok = self.toks[i]
        tt, w = tok.token_type, word(tok)
        if tt == T.SEMICOLON:
            self.flush()
            return i + 1
        if not self.cur:
            body = self._routine_body_start(i)
            if body is not None:
                return body
        if tt == T.L_PAREN:
            self.paren += 1
        elif tt == T.R_PAREN:
            self.paren = max(0, self.paren - 1)
        elif tt == T.CASE and not (self.cur == [] or word(self.peek(i - 1)) == "END"):
            self.case += 1
        elif tt == T.END:
            return self._end(i)
        elif w == "BEGIN" and tt == T.COMMAND and self._is_block_begin(i):
            return self._command_block(i)
        elif tt == T.BEGIN and self._is_block_begin(i):
            self.flush()
            return i + 2 if word(self.peek(i + 1)) in {"TRY", "CATCH", "ATOMIC"} else i + 1
        elif self.paren == 0 and self.case == 0:
            nxt = self._block_word(i, w)
            if nxt is not None:
                return nxt
            if self.tsql and self.cur and self._tsql_starts(i):
                self.flush()
            self._track_cte(i, tt)
        self.cur.append(tok)
        return i + 1

    def _command_block(self, i: int) -> int:
        """BigQuery tokenizes `BEGIN` as a command and its statement up to `;` as one
        string token: split that text like a body."""
        self.flush()
        nxt = self.peek(i + 1)
        if nxt is None or nxt.token_type != T.STRING or nxt.line < self.toks[i].line:
            return i + 1
        holder = Chunk([self.toks[i], nxt], self.sql)
        self.chunks.extend(self._split_body(holder, nxt))
        return i + 2

    def _end(self, i: int) -> int:
        suffix = word(self.peek(i + 1))
        if self.case > 0 and suffix not in END_SUFFIXES - {"CASE"}:
            self.case -= 1
            self.cur.append(self.toks[i])
            return i + 1
        if self.paren > 0:  # inside brackets END is a word (`AS ROW END`), not a block's
            self.cur.append(self.toks[i])
            return i + 1
        self.flush()  # END of a BEGIN block or of IF/LOOP/CASE/TRY statements
        return i + 2 if suffix in END_SUFFIXES else i + 1

    def _block_word(self, i: int, w: str) -> int | None:
        """THEN/LOOP/DO close a control head; ELSE is a boundary of its own."""
        head = word(self.cur[0]) if self.cur else ""
        if w in {"THEN", "LOOP", "DO"} and head in CONTROL_WORDS:
            self.cur.append(self.toks[i])
            self.flush(control=True)
            return i + 1
        if w == "ELSE" and head not in {"MERGE"} and not self._multi_table_insert():
            self.flush()
            return i + 1
        return None

    def _multi_table_insert(self) -> bool:
        """Snowflake/Oracle `INSERT ALL|FIRST WHEN ... INTO ... ELSE INTO ...`: its ELSE
        belongs to the statement, not to an IF around it."""
        return (
            len(self.cur) > 1
            and word(self.cur[0]) == "INSERT"
            and word(self.cur[1]) in {"ALL", "FIRST"}
        )

    def _is_block_begin(self, i: int) -> bool:
        nxt = self.peek(i + 1)
        if nxt is None or nxt.token_type == T.SEMICOLON:
            return False
        return word(nxt) not in TRANSACTION_WORDS

    def _tsql_starts(self, i: int) -> bool:
        tok = self.toks[i]
        tt, w = tok.token_type, word(tok)
        if tt not in TSQL_STARTERS and w not in TSQL_STARTER_WORDS:
            return False
        return not self._continues(i, tt)

    def _track_cte(self, i: int, tt: TokenType) -> None:
        if tt == T.WITH and word(self.peek(i + 1)) not in {"(", "CHECK", "NOCHECK", "TIES"}:
            self.cte_pending = True
        elif tt in MAIN_STATEMENT:
            self.cte_pending = False
        if tt == T.INSERT:
            self.insert_pending = True
        elif tt in {T.SELECT, T.VALUES, T.COMMAND, T.EXECUTE}:
            self.insert_pending = False

    def _continues(self, i: int, tt: TokenType) -> bool:
        """Positions where a statement keyword belongs to the statement before it."""
        prev = self.peek(i - 1)
        pw = word(prev)
        head = self.cur[0].token_type
        seen = {t.token_type for t in self.cur}
        if pw in {"THEN", "ON", "FOR", "AS", "OF", "INSTEAD", "AFTER", "BEFORE", ",", "BULK"}:
            return True
        if prev is not None and prev.token_type in SET_OPS:
            return True
        w = word(self.toks[i])
        if w in PERMISSION_WORDS and pw == "WITH":
            return True  # ... TO r WITH GRANT OPTION
        if word(self.cur[0]) in PERMISSION_WORDS:
            return not any(word(t) in {"ON", "TO", "FROM"} for t in self.cur)
        if w == "FETCH" and (pw in {"ROWS", "ROW"} or any(word(t) == "OFFSET" for t in self.cur)):
            return True  # OFFSET n ROWS FETCH NEXT m ROWS ONLY
        if w == "IF" and pw in OBJECT_WORDS:
            return word(self.peek(i + 1)) in {"EXISTS", "NOT"}
        if tt == T.WITH:
            if not self._cte_follows(i):
                return True  # WITH (NOLOCK), WITH CHECK OPTION, RESTORE ... WITH MOVE, ...
            return head in {T.INSERT, T.CREATE} and T.SELECT not in seen
        if self.cte_pending and tt in MAIN_STATEMENT:
            return True  # the main statement after a CTE list
        if tt == T.SELECT:
            return self.insert_pending
        if tt == T.SET:
            return head in {T.UPDATE, T.ALTER, T.MERGE} or T.UPDATE in seen
        if tt in {T.COMMAND, T.EXECUTE}:
            return self.insert_pending
        return False

    def _cte_follows(self, i: int) -> bool:
        """`WITH name [(columns)] AS (` (or WITH XMLNAMESPACES): a CTE list, which is
        the only WITH that opens a statement."""
        name = self.peek(i + 1)
        if name is None or word(name) == "XMLNAMESPACES":
            return name is not None
        if name.token_type not in (T.VAR, T.IDENTIFIER):
            return False
        k = i + 2
        if (tok := self.peek(k)) is not None and tok.token_type == T.L_PAREN:
            depth = 0
            while (tok := self.peek(k)) is not None:
                depth += (tok.token_type == T.L_PAREN) - (tok.token_type == T.R_PAREN)
                k += 1
                if depth == 0:
                    break
        after = self.peek(k + 1)
        return word(self.peek(k)) == "AS" and after is not None and after.token_type == T.L_PAREN

    def _routine_body_start(self, i: int) -> int | None:
        """If tokens at `i` open CREATE PROCEDURE/FUNCTION/TRIGGER with an inline body,
        return the index where the body starts (the header is dropped)."""
        if word(self.toks[i]) not in {"CREATE", "ALTER"}:
            return None
        j, limit = i + 1, min(i + 8, len(self.toks))
        while j < limit and word(self.toks[j]) not in ROUTINE_WORDS:
            if self.toks[j].token_type in {T.L_PAREN, T.ALIAS, T.SEMICOLON}:
                return None
            j += 1
        if j >= limit:
            return None
        is_function = word(self.toks[j]) == "FUNCTION"
        depth = 0
        for k in range(j + 1, len(self.toks)):
            tok = self.toks[k]
            if tok.token_type == T.SEMICOLON:
                return None
            depth += (tok.token_type == T.L_PAREN) - (tok.token_type == T.R_PAREN)
            if depth != 0:
                continue
            if word(tok) == "BEGIN":
                return k
            if tok.token_type == T.ALIAS and word(self.peek(k - 1)) not in {"EXECUTE", "EXEC"}:
                nxt = self.peek(k + 1)
                if nxt is None or nxt.token_type in STRING_TYPES:
                    return None  # quoted body: handled after the split
                if is_function and nxt.token_type != T.BEGIN:
                    return None  # expression or RETURN body: nothing to flatten
                return k + 1
        return None

    def _expand_string_bodies(self) -> list[Chunk]:
        out: list[Chunk] = []
        for chunk in self.chunks:
            body = _string_body(chunk) if self.depth < 3 else None
            if body is None:
                out.append(chunk)
                continue
            out.extend(self._split_body(chunk, body))
        return out

    def _split_body(self, chunk: Chunk, tok: Token) -> list[Chunk]:
        raw = self.sql[tok.start : tok.end + 1]
        offset = tok.start + max(raw.find(tok.text), 0)
        line_base = self.sql.count("\n", 0, offset)
        col_base = offset - (self.sql.rfind("\n", 0, offset) + 1)
        try:
            inner = split(tok.text, self.dialect, _depth=self.depth + 1)
        except Exception:
            return [chunk]  # body not SQL after all: keep the CREATE as one statement
        for c in inner:
            c.line_base += line_base
            c.col_base += col_base
        return inner


# Text that may make step() do more than split at `;`: block and routine syntax, and
# END closing something other than a CASE expression (END IF, END LOOP, END CASE ...).
# Searched in the raw text, so a match inside a comment or string only costs the
# slow path, never a wrong split.
_BLOCK_SYNTAX = re.compile(
    r"\b(?:BEGIN|LOOP|DO|EXCEPTION|PROCEDURE|PROC|FUNCTION|TRIGGER"
    r"|END\s+(?:IF|LOOP|WHILE|REPEAT|FOR|CASE|TRY|CATCH))\b",
    re.IGNORECASE,
)
_SPECIAL_TYPES = (T.BEGIN, T.COMMAND, T.FUNCTION, T.PROCEDURE)
_TOKEN_TYPE = attrgetter("token_type")


def _string_body(chunk: Chunk) -> Token | None:
    """The quoted body token of CREATE PROCEDURE/FUNCTION ... AS '...' in a SQL language."""
    toks = chunk.tokens
    if not toks or word(toks[0]) not in {"CREATE", "ALTER"}:
        return None
    if not any(word(t) in ROUTINE_WORDS for t in toks[1:8]):
        return None
    body = None
    for k, tok in enumerate(toks[:-1]):
        if tok.token_type == T.ALIAS and toks[k + 1].token_type in STRING_TYPES:
            body = toks[k + 1]
        if word(tok) == "LANGUAGE" and word(toks[k + 1]).strip("'\"") not in SQL_LANGUAGES:
            return None
    return body
