"""Just enough of the async Neo4j driver for GraphWriter's transactions, for unit tests:
records every statement; each one takes `step` seconds on an optional fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class FakeNeo4j:
    def __init__(self, on_statement: Callable[[], None] | None = None) -> None:
        self.runs: list[tuple[str, dict[str, Any]]] = []
        self._on_statement = on_statement

    def session(self, **_: Any) -> FakeNeo4j:
        return self

    async def __aenter__(self) -> FakeNeo4j:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    async def begin_transaction(self) -> FakeNeo4j:
        return self

    async def run(self, query: str, params: dict[str, Any]) -> FakeNeo4j:
        self.runs.append((query, params))
        if self._on_statement is not None:
            self._on_statement()
        return self

    async def single(self, strict: bool = False) -> dict[str, list[str]]:
        return {"columns": ["raw.s.x"], "tables": ["raw.s"]}

    async def commit(self) -> None:
        return None
