"""read_file: regular files only, never blocking on open, reads bounded by the limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lineaged.extract.bounds import MAX_FILE_CHARS
from lineaged.reading import MAX_FILE_BYTES, NotRegularFile, read_file


def test_a_regular_file_is_read_whole_with_the_stat_of_its_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "a.sql"
    path.write_bytes(b"select 1\n" * 1000)
    content = read_file(str(path))
    assert content.error is None and content.data == b"select 1\n" * 1000
    assert content.stat is not None and content.stat.st_ino == path.stat().st_ino


def test_the_limit_admits_everything_the_extractor_admits() -> None:
    assert MAX_FILE_BYTES >= 4 * MAX_FILE_CHARS  # UTF-8: at most 4 bytes per character


@pytest.mark.parametrize("make", [os.mkfifo, os.mkdir], ids=["fifo", "directory"])
def test_non_regular_entries_are_refused_without_reading(tmp_path: Path, make) -> None:
    path = tmp_path / "x.sql"
    make(path)
    with pytest.raises(NotRegularFile) as info:
        read_file(str(path))
    assert info.value.kind in ("FIFO", "directory")


def test_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    os.symlink("/dev/zero", tmp_path / "zero.sql")
    with pytest.raises(NotRegularFile) as info:
        read_file(str(tmp_path / "zero.sql"))
    assert info.value.kind == "character device"


def test_a_file_over_the_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.sql"
    path.write_bytes(b"x" * 101)
    content = read_file(str(path), max_bytes=100)
    assert content.data == b""
    assert content.error == "file too large: 101 bytes (limit 100); not read"
    assert read_file(str(path), max_bytes=101).data == b"x" * 101


def test_a_read_stops_at_the_limit_when_the_size_lies() -> None:
    # procfs files say st_size 0 and have content: the bound, not the size, stops them.
    assert os.stat("/proc/self/status").st_size == 0
    content = read_file("/proc/self/status", max_bytes=64)
    assert content.error == "file too large: more than 64 bytes (limit 64); not read"


def test_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_file(str(tmp_path / "missing.sql"))
