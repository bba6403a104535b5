"""The one place that decides what a Neo4j driver error means for the writer.

RETRY  - the database or the network is in the way right now; the writer waits (capped
         exponential backoff with jitter) and runs the same transaction again, for as
         long as the daemon runs, and the pipeline behind it stalls (nothing dropped):
         * ServiceUnavailable, SessionExpired, IncompleteCommit (connection lost during
           COMMIT: the replace is idempotent, so running it again is safe either way),
           connection resets and socket timeouts (OSError, TimeoutError);
         * every TransientError (Neo.TransientError.*), e.g. deadlocks, lock timeouts,
           DatabaseUnavailable, leader switches; and any error the driver itself marks
           retryable (NotALeader, ForbiddenOnReadOnlyDatabase, AuthorizationExpired...);
         * Neo.ClientError.Transaction.Terminated / LockClientStopped / TransactionTimedOut
           (Neo4j 5 reports these as client errors, but they mean "the server stopped
           this transaction" — shutdown, an admin kill, a timeout — never "bad data").
CONFLICT - a node the transaction had matched was deleted by an overlapping committed
         transaction: another writer removed the last reference to a shared Column or
         Table and dropped it (DROP_ORPHANS) between this transaction's MERGE of it and
         its use. Neo4j says Neo.ClientError.Statement.EntityNotFound ("Unable to load
         NODE") when a relationship is created to it, and WRITE_NEW's OPTIONAL MATCHes
         turn a vanished node into "Failed to create relationship ..., node ... is
         missing" (ArgumentError) instead of a silently dropped edge. Running the
         transaction again MERGEs the node anew, so the writer retries it, but a few
         times only (writer.CONFLICT_RETRIES): a row naming a node that no part of
         the write creates would be a bug, and must end as a dead letter, not a loop.
FATAL  - configuration is wrong (authentication, missing database): retrying cannot
         help and splitting would dead-letter every file; the writer raises
         WriterFatalError and the daemon stops.
SPLIT  - anything else (constraint violations, an index key too large, a memory pool
         exhausted by one huge batch, a Cypher type error...) is taken to be caused by
         the data of the batch: the batch is split in halves until the one file that
         cannot be written is isolated and dead-lettered.
"""

from __future__ import annotations

from enum import Enum

from neo4j.exceptions import (
    AuthError,
    ConfigurationError,
    DatabaseUnavailable,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)


class ErrorKind(Enum):
    RETRY = "retry"
    CONFLICT = "conflict"
    SPLIT = "split"
    FATAL = "fatal"


_FATAL_CODES = (
    "Neo.ClientError.Security.",
    "Neo.ClientError.Database.DatabaseNotFound",
)
# The server gave up on the transaction, not on the data in it.
_STOPPED_CODES = (
    "Neo.ClientError.Transaction.Terminated",
    "Neo.ClientError.Transaction.LockClientStopped",
    "Neo.ClientError.Transaction.TransactionTimedOut",
)
# Transient by the server's account, but retrying the same oversized batch would fail
# the same way forever; halving it is what helps.
_TOO_BIG_CODES = ("Neo.TransientError.General.MemoryPoolOutOfMemoryError",)
_VANISHED_NODE_CODE = "Neo.ClientError.Statement.EntityNotFound"
_MISSING_NODE_CODE = "Neo.ClientError.Statement.ArgumentError"


def classify(exc: BaseException) -> ErrorKind:
    if isinstance(exc, AuthError | ConfigurationError):
        return ErrorKind.FATAL
    if isinstance(exc, Neo4jError):
        code = exc.code or ""
        if code.startswith("Neo.ClientError.Security.AuthorizationExpired"):
            return ErrorKind.RETRY  # the driver re-authenticates on the next attempt
        if code.startswith(_FATAL_CODES):
            return ErrorKind.FATAL
        if code.startswith(_TOO_BIG_CODES):
            return ErrorKind.SPLIT
        if code.startswith(_STOPPED_CODES):
            return ErrorKind.RETRY
        if code == _VANISHED_NODE_CODE or (
            code == _MISSING_NODE_CODE and _names_a_missing_node(exc.message or "")
        ):
            return ErrorKind.CONFLICT
        if isinstance(exc, TransientError) or exc.is_retryable():
            return ErrorKind.RETRY
        return ErrorKind.SPLIT
    if isinstance(exc, ServiceUnavailable | SessionExpired):
        return ErrorKind.RETRY
    if isinstance(exc, DriverError | OSError | TimeoutError | ConnectionError):
        return ErrorKind.RETRY
    return ErrorKind.SPLIT


def _names_a_missing_node(message: str) -> bool:
    # Neo4j 5: "Failed to create relationship `r`, node `n` is missing. If you prefer
    # to simply ignore rows where a relationship node is missing, set ..."
    return message.startswith("Failed to create relationship") and "is missing" in message


def is_unreachable(exc: BaseException) -> bool:
    """A RETRY that means Neo4j is away (vs. a deadlock or lock timeout between our own
    transactions): only these put the writer into its `waiting_for_neo4j` state."""
    if isinstance(exc, Neo4jError):
        return isinstance(exc, DatabaseUnavailable) or (exc.code or "").startswith(
            "Neo.TransientError.General.DatabaseUnavailable"
        )
    return isinstance(exc, DriverError | OSError | TimeoutError | ConnectionError)


def describe(exc: BaseException) -> str:
    if isinstance(exc, Neo4jError) and exc.code:
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
