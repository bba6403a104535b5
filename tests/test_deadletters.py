from __future__ import annotations

import os
import stat
from pathlib import Path

from lineaged.deadletters import DeadLetter, DeadLetters


def test_append_read_rewrite_and_torn_line(tmp_path: Path) -> None:
    dl = DeadLetters(tmp_path / "state" / "dead.jsonl")
    assert dl.read() == []
    a = DeadLetter("r", "a.sql", "aa", "ClientError", "too big", 1.0)
    b = DeadLetter("r", "b.sql", "bb", "ClientError", "nope", 2.0)
    dl.append([a, b])
    with dl.path.open("ab") as fh:
        fh.write(b'{"root": "r", "pa')  # a crash mid-append
    assert dl.read() == [a, b]
    dl.rewrite([b])
    assert dl.read() == [b]


def test_settle_drops_handled_keeps_appended_meanwhile_and_latest_per_file(
    tmp_path: Path,
) -> None:
    dl = DeadLetters(tmp_path / "dead.jsonl")
    a = DeadLetter("r", "a.sql", "aa", "ClientError", "too big", 1.0)
    b = DeadLetter("r", "b.sql", "bb", "ClientError", "too big", 2.0)
    dl.append([a, b])
    handled = dl.read()
    # While a replay works, the daemon dead-letters another file and a newer a.sql.
    c = DeadLetter("r", "c.sql", "cc", "ClientError", "nope", 3.0)
    a2 = DeadLetter("r", "a.sql", "a2", "ClientError", "still too big", 4.0)
    dl.append([c, a2])
    b_again = DeadLetter("r", "b.sql", "bb", "ClientError", "too big again", 5.0)
    dl.settle(handled, [b_again])
    assert dl.read() == [c, a2, b_again]
    dl.settle(dl.read(), [])
    assert dl.read() == []


def _letter(path: str) -> DeadLetter:
    return DeadLetter("r", path, None, "SPLIT", "refused", 1.0)


def test_state_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        dead = DeadLetters(tmp_path / "state" / "dead_letters.jsonl")
        dead.append([_letter("a.sql"), _letter("b.sql")])
        assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
        assert stat.S_IMODE(dead.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(dead.path.with_suffix(".lock").stat().st_mode) == 0o600
        dead.settle([_letter("a.sql")], [])  # what replay does: a rewrite
        assert [d.path for d in dead.read()] == ["b.sql"]
        assert stat.S_IMODE(dead.path.stat().st_mode) == 0o600
    finally:
        os.umask(old)
