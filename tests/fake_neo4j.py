"""Just enough of the async Neo4j driver for GraphWriter's transactions, for unit tests:
records every statement (and whether it ran in an explicit transaction or as an
auto-commit one); each one takes `step` seconds on an optional fake clock. A
statement in an explicit transaction waits for `gate` (an asyncio.Event) when one is
given: a test holds a backfill transaction open while something else happens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from neo4j import SummaryCounters


class FakeNeo4j:
    def __init__(
        self,
        on_statement: Callable[[], None] | None = None,
        *,
        counters: dict[str, int] | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.runs: list[tuple[str, dict[str, Any]]] = []
        # One entry per statement: "tx" (inside begin_transaction) or "auto".
        self.kinds: list[str] = []
        self.begins = 0
        self.commits = 0
        self.rollbacks = 0
        # The statements of each explicit transaction, in order.
        self.transactions: list[list[str]] = []
        self._on_statement = on_statement
        self.gate: asyncio.Event | None = None
        # What every statement reports having changed (its summary's counters).
        self.counters = counters or {}
        self._on_commit = on_commit

    def session(self, **_: Any) -> _Session:
        return _Session(self)

    def record(self, query: str, params: dict[str, Any], kind: str) -> _Result:
        self.runs.append((query, params))
        self.kinds.append(kind)
        if self._on_statement is not None:
            self._on_statement()
        return _Result(self.counters)


class _Session:
    def __init__(self, neo4j: FakeNeo4j) -> None:
        self._neo4j = neo4j

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    async def begin_transaction(self) -> _Tx:
        self._neo4j.begins += 1
        self._neo4j.transactions.append([])
        return _Tx(self._neo4j)

    async def run(self, query: str, params: dict[str, Any]) -> _Result:
        return self._neo4j.record(query, params, "auto")


class _Tx:
    def __init__(self, neo4j: FakeNeo4j) -> None:
        self._neo4j = neo4j

    async def __aenter__(self) -> _Tx:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    async def run(self, query: str, params: dict[str, Any]) -> _Result:
        if self._neo4j.gate is not None:
            await self._neo4j.gate.wait()
        self._neo4j.transactions[-1].append(query)
        return self._neo4j.record(query, params, "tx")

    async def commit(self) -> None:
        if self._neo4j._on_commit is not None:
            self._neo4j._on_commit()
        self._neo4j.commits += 1

    async def rollback(self) -> None:
        self._neo4j.rollbacks += 1


class _Summary:
    def __init__(self, counters: dict[str, int]) -> None:
        self.counters = SummaryCounters(counters)


class _Result:
    def __init__(self, counters: dict[str, int]) -> None:
        self._counters = counters

    async def single(self, strict: bool = False) -> dict[str, list[str]]:
        return {"columns": ["raw.s.x"], "tables": ["raw.s"]}

    async def consume(self) -> _Summary:
        return _Summary(self._counters)

    def __aiter__(self) -> _Result:
        return self

    async def __anext__(self) -> dict[str, Any]:
        raise StopAsyncIteration  # reads find nothing
