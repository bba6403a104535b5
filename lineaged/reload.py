"""What a SIGHUP reload changes: the difference between two validated Settings.

Applied live: roots (added, changed, removed), globs, dialects, debounce and batch
limits, task timeout, log level/format, drain deadline, status interval.
Needs a restart (logged, old value kept): Neo4j connection, state dir, worker count,
metrics address. A removed root's watch is dropped; its File nodes stay in the graph,
as they would across a restart (reconcile only looks at configured roots).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lineaged.config import RootSettings, Settings


@dataclass(frozen=True)
class ReloadPlan:
    added: tuple[RootSettings, ...]
    changed: tuple[RootSettings, ...]
    removed: tuple[str, ...]
    restart_required: tuple[str, ...]

    @property
    def roots_changed(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def plan_reload(old: Settings, new: Settings) -> ReloadPlan:
    before = {r.name: r for r in old.roots}
    after = {r.name: r for r in new.roots}
    added = tuple(r for name, r in after.items() if name not in before)
    changed = tuple(r for name, r in after.items() if name in before and before[name] != r)
    removed = tuple(name for name in before if name not in after)
    restart = []
    if old.neo4j != new.neo4j:
        restart.append("neo4j")
    if old.state != new.state:
        restart.append("state.dir")
    if old.pool.workers != new.pool.workers:
        restart.append("pool.workers")
    if old.service.metrics_address != new.service.metrics_address:
        restart.append("service.metrics_address")
    return ReloadPlan(added, changed, removed, tuple(restart))


def keep_restart_only(old: Settings, new: Settings, plan: ReloadPlan) -> Settings:
    """`new`, with the settings that need a restart put back to what is running."""
    if not plan.restart_required:
        return new
    return dataclasses.replace(
        new,
        neo4j=old.neo4j,
        state=old.state,
        pool=dataclasses.replace(new.pool, workers=old.pool.workers),
        service=dataclasses.replace(new.service, metrics_address=old.service.metrics_address),
    )
