"""The process exit codes of every `lineaged` command, in one place."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    # The command ran and found problems: files with errors, dead letters left, a
    # replay that still fails, a lineage NAME that is not in the graph, a daemon that
    # answers but is unhealthy.
    PROBLEMS = 1
    USAGE = 2  # bad usage or invalid configuration
    # Cannot start or cannot reach what the command needs: Neo4j, the cache file, the
    # running daemon's metrics endpoint.
    CANNOT_START = 3
    INTERRUPTED = 130  # 128 + SIGINT
    TERMINATED = 143  # 128 + SIGTERM

    @classmethod
    def for_signal(cls, signum: int) -> ExitCode:
        """The code a process stopped by a second `signum` exits with."""
        import signal

        return cls.INTERRUPTED if signum == signal.SIGINT else cls.TERMINATED
