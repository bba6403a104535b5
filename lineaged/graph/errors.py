"""The one place that decides what a Neo4j driver error means for the writer.

RETRY  - the database or the network is in the way right now (unavailable, leader
         switch, deadlock, lock or transaction timeout, connection reset): wait and
         try the same transaction again, for as long as the daemon runs.
FATAL  - configuration is wrong (authentication, missing database): retrying cannot
         help and splitting would dead-letter every file; stop and say why.
SPLIT  - anything else is taken to be caused by the data of the batch: split it in
         halves until the one file that cannot be written is isolated.
"""

from __future__ import annotations

from enum import Enum

from neo4j.exceptions import (
    AuthError,
    ConfigurationError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)


class ErrorKind(Enum):
    RETRY = "retry"
    SPLIT = "split"
    FATAL = "fatal"


_FATAL_CODES = (
    "Neo.ClientError.Security.",
    "Neo.ClientError.Database.DatabaseNotFound",
)


def classify(exc: BaseException) -> ErrorKind:
    if isinstance(exc, AuthError | ConfigurationError):
        return ErrorKind.FATAL
    if isinstance(exc, Neo4jError):
        code = exc.code or ""
        if code.startswith(_FATAL_CODES):
            return ErrorKind.FATAL
        if isinstance(exc, TransientError) or exc.is_retryable():
            return ErrorKind.RETRY
        return ErrorKind.SPLIT
    if isinstance(exc, ServiceUnavailable | SessionExpired):
        return ErrorKind.RETRY
    if isinstance(exc, DriverError) and exc.is_retryable():
        return ErrorKind.RETRY
    if isinstance(exc, DriverError | OSError | TimeoutError | ConnectionError):
        return ErrorKind.RETRY
    return ErrorKind.SPLIT


def describe(exc: BaseException) -> str:
    if isinstance(exc, Neo4jError) and exc.code:
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
