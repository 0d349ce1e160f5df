"""The backup lines of a plan: each container's declared policy and its next due time (pure).

`reconcile.make_plan` adds them to the plan it made, from the policies the revision declares
(`DesiredState.backup_policies`), the last successful scheduled dumps the state directory
recorded, and `now`, which it passes in: nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from reconciler.plan.model import BackupLine, Plan
from reconciler.spec.backup import BackupPolicy, next_due
from reconciler.spec.desired import DesiredContainer


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def backup_lines(
    containers: tuple[DesiredContainer, ...],
    policies: Mapping[int, BackupPolicy],
    last_ok: Mapping[int, float],
    now: float,
) -> tuple[BackupLine, ...]:
    """One line per container with a policy, by ctid; never dumped: due now (plus jitter)."""
    lines = []
    for d in sorted(containers, key=lambda c: c.ctid):
        policy = policies.get(d.ctid)
        if policy is None or d.spec.state == "absent":
            continue
        last = last_ok.get(d.ctid)
        due = next_due(policy, d.ctid, last, now)
        lines.append(
            BackupLine(ctid=d.ctid, name=d.name, policy=policy.summary(),
                       last=iso(last) if last is not None else None, next_due=iso(due))
        )  # fmt: skip
    return tuple(lines)


def with_backups(plan: Plan, lines: tuple[BackupLine, ...]) -> Plan:
    return plan.model_copy(update={"backups": lines}) if lines else plan
