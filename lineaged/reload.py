"""What a SIGHUP reload changes: the difference between two validated Settings.

Every changed setting is named (`section.key`) and sorted into one of two lists:
- applied live: roots (added, changed, removed), globs, dialects, everything in
  [batch] but the lane counts, [pool] task_timeout_s / recycle_after /
  memory_limit_mb, [watch], [writer] rows_per_tx / backfill_tx_ms / slow_tx_s /
  backoff_*, [cache] max_entries / max_mb / ttl_days, [log], and [service] but the
  metrics address;
- needs a restart (logged by name, the running value kept): anything in [neo4j],
  state.dir, pool.workers, pool.start_timeout_s and pool.worker_nice, batch.live_lanes and
  batch.backfill_lanes, writer.max_concurrent_tx, cache.enabled and
  service.metrics_address — each sizes or opens something at start-up.
A removed root's watch is dropped; its File nodes stay in the graph, as they would
across a restart (reconcile only looks at configured roots).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lineaged.config import RootSettings, Settings

RESTART_REQUIRED = frozenset(
    {
        "state.dir",
        "pool.workers",
        "pool.start_timeout_s",
        "pool.worker_nice",
        "batch.live_lanes",
        "batch.backfill_lanes",
        "writer.max_concurrent_tx",
        "writer.orphan_sweep",
        "cache.enabled",
        "service.metrics_address",
    }
)
RESTART_REQUIRED_SECTIONS = frozenset({"neo4j"})


@dataclass(frozen=True)
class ReloadPlan:
    added: tuple[RootSettings, ...]
    changed: tuple[RootSettings, ...]
    removed: tuple[str, ...]
    restart_required: tuple[str, ...]  # changed keys the running daemon keeps as they were
    applied: tuple[str, ...] = ()  # changed keys (outside [[roots]]) applied live

    @property
    def roots_changed(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def needs_restart(key: str) -> bool:
    return key in RESTART_REQUIRED or key.split(".", 1)[0] in RESTART_REQUIRED_SECTIONS


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """`section.key` of every setting outside [[roots]] that differs, in config order."""
    keys = []
    for section in dataclasses.fields(Settings):
        if section.name == "roots":
            continue
        before, after = getattr(old, section.name), getattr(new, section.name)
        if not dataclasses.is_dataclass(before):
            if before != after:
                keys.append(section.name)
            continue
        for f in dataclasses.fields(before):
            if getattr(before, f.name) != getattr(after, f.name):
                keys.append(f"{section.name}.{f.name}")
    return keys


def plan_reload(old: Settings, new: Settings) -> ReloadPlan:
    before = {r.name: r for r in old.roots}
    after = {r.name: r for r in new.roots}
    added = tuple(r for name, r in after.items() if name not in before)
    changed = tuple(r for name, r in after.items() if name in before and before[name] != r)
    removed = tuple(name for name in before if name not in after)
    keys = changed_keys(old, new)
    restart = tuple(k for k in keys if needs_restart(k))
    applied = tuple(k for k in keys if not needs_restart(k))
    return ReloadPlan(added, changed, removed, restart, applied)


def keep_restart_only(old: Settings, new: Settings, plan: ReloadPlan) -> Settings:
    """`new`, with the settings that need a restart put back to what is running."""
    for key in plan.restart_required:
        section, _, name = key.partition(".")
        kept = getattr(getattr(old, section), name)
        new = dataclasses.replace(
            new, **{section: dataclasses.replace(getattr(new, section), **{name: kept})}
        )
    return new
