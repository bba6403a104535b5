"""The [writer] settings: defaults, file < environment, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineaged.config import ConfigError, load_settings


def test_writer_settings_from_file_and_env(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[writer]\nrows_per_tx = 500\nmax_concurrent_tx = 4\n")
    s = load_settings(cfg, env={"LINEAGED_WRITER_SLOW_TX_S": "0.5"})
    assert (s.writer.rows_per_tx, s.writer.max_concurrent_tx, s.writer.slow_tx_s) == (500, 4, 0.5)
    assert (s.writer.backoff_initial_s, s.writer.backoff_max_s) == (0.2, 10.0)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("rows_per_tx = 0", "writer.rows_per_tx"),
        ("max_concurrent_tx = 0", "writer.max_concurrent_tx"),
        ("slow_tx_s = 0", "writer.slow_tx_s"),
        ("backoff_initial_s = 5.0\nbackoff_max_s = 1.0", "backoff_initial_s"),
        ("rows_per_tx = 'many'", "writer.rows_per_tx"),
        ("retry_forever = true", "writer.retry_forever"),
    ],
)
def test_bad_writer_settings_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[writer]\n{text}\n")
    with pytest.raises(ConfigError, match=key):
        load_settings(cfg, env={})
