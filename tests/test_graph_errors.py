"""Which driver errors retry, split or stop the writer (the documented table)."""

from __future__ import annotations

import pytest
from neo4j.exceptions import (
    AuthError,
    ClientError,
    DatabaseUnavailable,
    IncompleteCommit,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from lineaged.graph.errors import ErrorKind, classify, is_unreachable


def server_error(code: str) -> Neo4jError:
    # How the driver itself builds an error from a server FAILURE message.
    return Neo4jError._hydrate_neo4j(code=code, message="m")


@pytest.mark.parametrize(
    ("exc", "kind", "unreachable"),
    [
        (ServiceUnavailable("down"), ErrorKind.RETRY, True),
        (SessionExpired("gone"), ErrorKind.RETRY, True),
        (IncompleteCommit("lost during commit"), ErrorKind.RETRY, True),
        (ConnectionResetError("reset"), ErrorKind.RETRY, True),
        (TimeoutError("socket"), ErrorKind.RETRY, True),
        (server_error("Neo.TransientError.Transaction.DeadlockDetected"), ErrorKind.RETRY, False),
        (server_error("Neo.TransientError.General.DatabaseUnavailable"), ErrorKind.RETRY, True),
        (server_error("Neo.ClientError.Transaction.Terminated"), ErrorKind.RETRY, False),
        (server_error("Neo.ClientError.Transaction.TransactionTimedOut"), ErrorKind.RETRY, False),
        (server_error("Neo.ClientError.Cluster.NotALeader"), ErrorKind.RETRY, False),
        (server_error("Neo.ClientError.Security.Unauthorized"), ErrorKind.FATAL, False),
        (server_error("Neo.ClientError.Database.DatabaseNotFound"), ErrorKind.FATAL, False),
        (server_error("Neo.ClientError.Schema.ConstraintValidationFailed"), ErrorKind.SPLIT, False),
        (server_error("Neo.ClientError.Statement.TypeError"), ErrorKind.SPLIT, False),
        (
            server_error("Neo.TransientError.General.MemoryPoolOutOfMemoryError"),
            ErrorKind.SPLIT,
            False,
        ),
        (ValueError("a bug, not the database"), ErrorKind.SPLIT, False),
    ],
)
def test_classification(exc: BaseException, kind: ErrorKind, unreachable: bool) -> None:
    assert classify(exc) is kind
    if kind is ErrorKind.RETRY:
        assert is_unreachable(exc) is unreachable


def test_hydrated_classes_are_what_the_table_assumes() -> None:
    assert isinstance(
        server_error("Neo.TransientError.General.DatabaseUnavailable"), DatabaseUnavailable
    )
    assert isinstance(
        server_error("Neo.TransientError.Transaction.DeadlockDetected"), TransientError
    )
    assert isinstance(server_error("Neo.ClientError.Security.Unauthorized"), AuthError)
    assert isinstance(server_error("Neo.ClientError.Statement.TypeError"), ClientError)
