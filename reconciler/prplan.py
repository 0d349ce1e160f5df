"""Pull-request plans: what merging a head revision would do (shell; called by `vzgitops plan
--base REF --head REF [--offline]`).

Steps: read and validate the head (a head that does not validate is the answer: exit 1 with its
problems), read the base, then plan the head either against the live node (observed as usual)
or, with `--offline`, against a node synthesised from the base's desired state
(`offline.as_applied`), one plan per node the two revisions name. The report names both commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.errors import ObserveError, SpecError, ToolMissing, VzGitopsError
from reconciler.node.access import NodeAccess
from reconciler.offline import as_applied, inventory_of
from reconciler.plan import Plan, plan
from reconciler.plan.preflight import preflight
from reconciler.reconcile import Options, make_plan, policy_for
from reconciler.report import CommitInfo, Report, build_plan_report
from reconciler.source import Revision, Source
from reconciler.spec.desired import DEFAULT_NODE, DesiredContainer, DesiredState
from reconciler.spec.load import load_desired
from reconciler.state import StateDir


@dataclass(frozen=True)
class Loaded:
    revision: Revision
    desired: DesiredState

    @property
    def commit(self) -> CommitInfo:
        return CommitInfo(
            sha=self.revision.sha, ref=self.revision.ref, subject=self.revision.subject
        )


def load_head(source: Source, ref: str | None, subpath: str) -> Loaded:
    revision = source.read(ref, subpath)
    return Loaded(revision, load_desired(revision.files))


def load_base(source: Source, ref: str, subpath: str) -> Loaded:
    """The base must validate too: it is what the offline node is built from."""
    revision = source.read(ref, subpath)
    try:
        return Loaded(revision, load_desired(revision.files))
    except SpecError as error:
        raise VzGitopsError(
            f"the base revision {ref} ({revision.sha[:12]}) does not validate, so it cannot stand in for the node: {error}"
        ) from error


def node_names(head: DesiredState, base: DesiredState, node: str | None) -> list[str]:
    """The nodes an offline plan covers: the one asked for, else every node either side names."""
    if node is not None:
        return [node]
    names = {c.node for c in (*head.containers, *base.containers)}
    return sorted(names) or [DEFAULT_NODE]


def _on(state: DesiredState, node: str, several: bool) -> tuple[DesiredContainer, ...]:
    return tuple(c for c in state.containers if c.node == node) if several else state.containers


def offline_plans(head: Loaded, base: Loaded, options: Options) -> list[Plan]:
    """Head against a node that matches base, per node."""
    names = node_names(head.desired, base.desired, options.node)
    several = len(names) > 1 or options.node is not None
    plans = []
    for name in names:
        before, after = _on(base.desired, name, several), _on(head.desired, name, several)
        node = as_applied(before)
        planned = plan(
            after,
            node,
            inventory_of(before),
            policy_for(head.desired, options),
            revision=head.revision.sha,
            node=name,
        )
        plans.append(preflight(planned, after, node, None))  # the checks that need no node
    return plans


def live_plan(head: Loaded, access: NodeAccess, state: StateDir, options: Options) -> Plan:
    try:
        result, _ = make_plan(head.desired, head.revision.sha, access, state, options)
    except (ObserveError, ToolMissing) as error:
        raise type(error)(
            f"{error}; or pass --offline to plan against the base revision instead of a node"
        ) from error
    return result


def pr_report(
    source: Source,
    base_ref: str,
    head_ref: str | None,
    subpath: str,
    *,
    access: NodeAccess | None,
    state: StateDir,
    options: Options,
) -> Report:
    """The plan of merging `head_ref` into `base_ref`; offline when `access` is None."""
    head = load_head(source, head_ref, subpath)
    base = load_base(source, base_ref, subpath)
    plans: Sequence[Plan]
    if access is None:
        plans = offline_plans(head, base, options)
    else:
        plans = [live_plan(head, access, state, options)]
    return build_plan_report(
        plans, head=head.commit, base=base.commit, against="node" if access else "base"
    )
