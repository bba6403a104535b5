from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lineaged.cache import ParseCache


async def test_cache_cli_finds_the_cache_through_the_config(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    state = tmp_path / "state"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[[roots]]\nname = "r"\npath = "sql"\n[state]\ndir = "{state}"\n')
    cache = await ParseCache.open(state / "cache.sqlite")
    await cache.close()
    proc = subprocess.run(
        [sys.executable, "-m", "lineaged.cli", "cache", "stats", "--json", "-c", str(cfg)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(json.loads(proc.stdout)["path"]) == state / "cache.sqlite"
