"""`lineaged status --errors`: every file whose lineage carries an error, from the graph.

The log names failing files too, but rate-limited (the same error on 97 binary files
is one line a minute): this is the complete list. The graph is the ledger, so the list
holds whether or not the daemon is running. One label scan over File nodes: fine for
a command an operator runs, never run by the daemon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neo4j import AsyncDriver

FILES_WITH_ERRORS = """
MATCH (f:File)
OPTIONAL MATCH (f)-[:CONTAINS]->(s:Statement) WHERE s.error IS NOT NULL
WITH f, s ORDER BY s.index
WITH f, collect(s.error) AS failed
WHERE f.error IS NOT NULL OR size(failed) > 0
RETURN f.id AS file, f.error AS error, size(failed) AS failed_statements,
       failed[0] AS first_statement_error
ORDER BY file
"""


@dataclass(frozen=True)
class FileError:
    file: str
    error: str | None  # the file as a whole (unreadable, too large, crashed, refused)
    failed_statements: int
    first_statement_error: str | None

    def line(self) -> str:
        if self.error:
            return f"{self.file}: {self.error}"
        more = f" (+{self.failed_statements - 1} more)" if self.failed_statements > 1 else ""
        return f"{self.file}: {self.first_statement_error}{more}"


async def files_with_errors(driver: AsyncDriver, database: str) -> list[FileError]:
    records, _, _ = await driver.execute_query(FILES_WITH_ERRORS, database_=database, routing_="r")
    return [FileError(**r.data()) for r in records]
