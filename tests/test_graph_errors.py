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


def server_error(code: str, message: str = "m") -> Neo4jError:
    # How the driver itself builds an error from a server FAILURE message.
    return Neo4jError._hydrate_neo4j(code=code, message=message)


# What Neo4j 5.26 says when a CREATE meets a null node (WRITE_NEW's OPTIONAL MATCH of a
# column another transaction deleted).
MISSING_NODE = (
    "Failed to create relationship `  UNNAMED0`, node `  sc@2` is missing. If you prefer "
    "to simply ignore rows where a relationship node is missing, set "
    "'dbms.cypher.lenient_create_relationship = true' in neo4j.conf"
)


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
            server_error("Neo.ClientError.Statement.EntityNotFound", "Unable to load NODE 4:x:7."),
            ErrorKind.CONFLICT,
            False,
        ),
        (
            server_error("Neo.ClientError.Statement.ArgumentError", MISSING_NODE),
            ErrorKind.CONFLICT,
            False,
        ),
        (
            server_error("Neo.ClientError.Statement.ArgumentError", "Invalid input 'x'"),
            ErrorKind.SPLIT,
            False,
        ),
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
