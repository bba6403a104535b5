from __future__ import annotations

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
