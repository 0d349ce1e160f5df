"""The one versioned report model, and the pure functions that build it (pure).

`build_report` (one plan, optionally with what applying it did), `build_plan_report` (plans of
one or more nodes, for pull requests: base and head commits named) and `build_drift_report`
(drift, for `vzgitops drift` and the controller) all return a `Report`. Its JSON is the
`--format json` output and the body the controller POSTs; the text and markdown renderers read
only a Report, so the three formats cannot disagree. No I/O, no clock: a timestamp, if wanted,
is passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.drift import Drift
from reconciler.plan import BackupLine, Change, Held, Plan, Unmanaged
from reconciler.plan.result import ApplyResult

REPORT_VERSION = 1
Kind = Literal["plan", "apply", "drift"]
Against = Literal["node", "base"]
ACTIONS = ("create", "update", "start", "stop", "restart", "recreate", "destroy", "restore", "move")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CommitInfo(Frozen):
    """A git commit as a report names it."""

    sha: str = Field(description="Full commit sha.")
    ref: str | None = Field(default=None, description="The ref it was resolved from, if any.")
    subject: str | None = Field(default=None, description="First line of the commit message.")


class NodeSection(Frozen):
    """The plan of one node."""

    node: str = Field(description="Node name.")
    summary: str = Field(description="This node's summary line.")
    counts: dict[str, int] = Field(
        description="Changes by action, plus needs_restart, destructive, held and unmanaged."
    )
    changes: tuple[Change, ...] = Field(default=(), description="Planned changes in order.")
    held: tuple[Held, ...] = Field(default=(), description="Differences not acted on.")
    unmanaged: tuple[Unmanaged, ...] = Field(
        default=(), description="Containers vzgitops does not own."
    )
    warnings: tuple[str, ...] = Field(
        default=(), description="Pre-flight warnings that hold nothing (e.g. shared hostnames)."
    )
    error: str | None = Field(
        default=None,
        description="Why this node could not be planned (unreachable, locked...); the other nodes are still planned.",
    )
    backups: tuple[BackupLine, ...] = Field(
        default=(), description="Declared backup policies: one line per container, next due time."
    )


class Report(Frozen):
    report_version: int = Field(default=REPORT_VERSION, description="Report format version.")
    kind: Kind = Field(description="What produced the report: plan, apply or drift.")
    node: str = Field(description="Node name (the first one, when the report covers several).")
    revision: str | None = Field(default=None, description="Git commit of the desired state.")
    base_revision: str | None = Field(
        default=None, description="Base commit, for pull-request plans."
    )
    head: CommitInfo | None = Field(default=None, description="Head commit, for pull requests.")
    base: CommitInfo | None = Field(default=None, description="Base commit, for pull requests.")
    against: Against | None = Field(
        default=None,
        description="node: planned against the live node; base: offline, as if the node matched base.",
    )
    summary: str = Field(description="The summary line.")
    counts: dict[str, int] = Field(description="Totals over all nodes (plans) or drift counts.")
    nodes: tuple[NodeSection, ...] = Field(default=(), description="Plan per node.")
    apply: ApplyResult | None = Field(
        default=None, description="What applying did, for apply reports."
    )
    remaining: tuple[Change, ...] = Field(
        default=(), description="Changes still planned after applying."
    )
    drift: Drift | None = Field(default=None, description="The drift, for drift reports.")
    heartbeat: bool = Field(
        default=False, description="A drift report of a clean node, sent to show the check ran."
    )
    generated_at: str | None = Field(
        default=None, description="When the report was made (RFC 3339), if the caller says."
    )
    targets: tuple[int, ...] = Field(
        default=(),
        description="A partial plan (--target): the only containers planned; empty: all of them.",
    )

    @property
    def partial_warning(self) -> str | None:
        """Said first in text and markdown: a partial plan may hide other differences."""
        if not self.targets:
            return None
        shown = ", ".join(str(c) for c in self.targets)
        return f"Warning: partial plan (--target): only container{'s' if len(self.targets) > 1 else ''} {shown}; other differences between git and the node are not shown or applied."

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for section in self.nodes for c in section.changes)

    @property
    def failed_nodes(self) -> tuple[str, ...]:
        return tuple(s.node for s in self.nodes if s.error is not None)

    @property
    def has_changes(self) -> bool:
        """Exit code 2 material: planned changes or held ones (the node does not match git
        either way), or drift."""
        if self.drift is not None:
            return not self.drift.clean
        return bool(self.changes) or any(s.held for s in self.nodes)


def plan_counts(plan: Plan) -> dict[str, int]:
    counts = {action: plan.count(action) for action in ACTIONS}
    counts["change"] = (
        len(plan.changes) - counts["create"] - counts["destroy"] - counts["recreate"]
        - counts["restore"] - counts["move"]
    )  # fmt: skip
    counts["needs_restart"] = sum(1 for c in plan.changes if c.restarts)
    counts["destructive"] = sum(1 for c in plan.changes if c.destructive)
    counts["held"] = len(plan.held)
    counts["unmanaged"] = len(plan.unmanaged)
    return counts


def section(plan: Plan) -> NodeSection:
    return NodeSection(
        node=plan.node,
        summary=plan.summary(),
        counts=plan_counts(plan),
        changes=plan.changes,
        held=plan.held,
        unmanaged=plan.unmanaged,
        warnings=plan.warnings,
        backups=plan.backups,
    )


def _merged(plans: Sequence[Plan]) -> Plan:
    """One plan holding every node's changes: its summary line is the total's."""
    return Plan(
        changes=tuple(c for p in plans for c in p.changes),
        held=tuple(h for p in plans for h in p.held),
        unmanaged=tuple(u for p in plans for u in p.unmanaged),
    )


def _subject(planned: int, nodes: int) -> str:
    """The total's subject over several nodes (`Plan, 2 nodes`; `Plan, 2 of 3 nodes` when one
    failed): under the nodes' own `Plan: ...` lines a bare `Plan` reads as one more node's."""
    if nodes < 2:
        return "Plan"
    return f"Plan, {planned} nodes" if planned == nodes else f"Plan, {planned} of {nodes} nodes"


def failed_section(node: str, error: str) -> NodeSection:
    """The section of a node that could not be planned."""
    return NodeSection(node=node, summary=f"Error: {error}", counts={}, error=error)


def build_plan_report(
    plans: Sequence[Plan],
    *,
    head: CommitInfo | None = None,
    base: CommitInfo | None = None,
    against: Against | None = None,
    failed: Sequence[NodeSection] = (),
) -> Report:
    """A plan report over one or more nodes; for a pull request, name base and head. `failed`:
    the sections of nodes that could not be planned, after the others."""
    total = _merged(plans)
    return Report(
        kind="plan",
        node=plans[0].node if plans else "default",
        revision=head.sha if head is not None else (plans[0].revision if plans else None),
        base_revision=base.sha if base is not None else None,
        head=head,
        base=base,
        against=against,
        summary=total.summary(_subject(len(plans), len(plans) + len(failed))),
        counts=plan_counts(total),
        nodes=(*(section(p) for p in plans), *failed),
        targets=tuple(sorted({t for p in plans for t in p.targets})),
    )


def _apply_summary(result: ApplyResult) -> str:
    """Never "converged" while held changes remain: the node does not match git then."""
    applied = sum(1 for r in result.results if r.status == "applied")
    held = len(result.held)
    if not result.converged:
        state = "not converged" + (f", {held} held" if held else "")
    else:
        state = f"{held} held, the node does not match git" if held else "converged"
    return f"Apply: {applied} applied, {len(result.failed)} failed; {state}."


def build_report(
    plan: Plan,
    result: ApplyResult | None = None,
    after: Plan | None = None,
    base: str | None = None,
) -> Report:
    """The report of one plan, or of applying it (`result`, and the plan `after` applying)."""
    report = build_plan_report(
        [plan], base=CommitInfo(sha=base) if base is not None else None
    ).model_copy(update={"revision": plan.revision})
    if result is None:
        return report
    return report.model_copy(
        update={
            "kind": "apply",
            "summary": _apply_summary(result),
            "apply": result,
            "remaining": after.changes if after is not None else (),
        }
    )


def build_drift_report(drift: Drift, generated_at: str | None = None) -> Report:
    """The report of a drift check; a clean node gives a heartbeat report."""
    return Report(
        kind="drift",
        node=drift.node,
        revision=drift.revision,
        summary=drift.summary(),
        counts=drift.counts(),
        drift=drift,
        heartbeat=drift.clean,
        generated_at=generated_at,
    )
