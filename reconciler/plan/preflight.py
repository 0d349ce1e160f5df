"""Pre-flight: the checks a plan passes before anything runs (pure; called by the reconcile).

`preflight(plan, desired, observed, facts)` holds each change the node cannot take, with the
reason in the plan (kind `preflight`), so a pull request shows it instead of a failed apply:

- create/recreate: the OS template cache exists in `$TEMPLATE/cache` (vzctl would exit 91), and
  its arch fits the node (an x86_64 template on a 32-bit node); the layout vzctl will create
  (`layout`, else the node's VE_LAYOUT, else ploop) is one the node has (ploop needs
  /proc/vz/ploop_minor, else exit 99), and a ploop image made by the node's default layout
  fits ploop's limits (the loader checks them for `layout: ploop` written in git);
- `cpus` no more than the node has, and `cpumask` naming only CPUs the node has;
- capacity: RAM and swap of the containers that will run within the node's (`free -b`); the
  disk-space limits a plan grants (new containers, raised limits) within the free space of
  VE_PRIVATE (`df`); with `cpu_overcommit` set, the running containers' `cpus` within the
  node's CPUs times that ratio. Only a change that raises a total is held, in plan order, so
  what fits still applies; unlimited values are not counted.

A ploop container's disk-space limit is its image's size, so a raise past 16T of a container
whose layout git leaves unset (its config says ploop) is held too: it needs no node facts.

Duplicate hostnames on the node are warned about (`Plan.warnings`), never held. With `facts`
None (an offline plan) only the checks that need no node run; with `FactsUnknown` every change
that needs the node is held with the reason it could not be asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler import units
from reconciler.fields import Canon, desired_settings
from reconciler.plan.facts import FactsUnknown, Layout, NodeFacts, arch_refusal
from reconciler.plan.model import Change, Held, Plan
from reconciler.plan.observed import ObservedState
from reconciler.spec.desired import DesiredContainer
from reconciler.spec.revision import PLOOP_KIB_PER_INODE, PLOOP_MAX_KIB
from reconciler.spec.types import CPUMASK_BITS, cpu_bits

RESOURCES = ("ram", "swap", "disk", "cpus")
Usage = dict[str, int]


@dataclass(frozen=True)
class Limits:
    """What the node's resources may sum up to; disk is what a plan may grant (KiB)."""

    ram: int
    swap: int
    disk: int
    cpus: int | None

    @staticmethod
    def of(facts: NodeFacts, cpu_overcommit: float | None) -> Limits:
        cpus = None if cpu_overcommit is None else int(facts.cpus * cpu_overcommit)
        return Limits(ram=facts.ram, swap=facts.swap, disk=facts.disk_free, cpus=cpus)

    def get(self, resource: str) -> int | None:
        value: int | None = getattr(self, resource)
        return value


def _bounded(value: int) -> int:
    return 0 if value >= units.LONG_MAX else value


def usage(values: Mapping[str, Canon], running: bool) -> Usage:
    """What one container takes: RAM and swap in bytes and CPUs while running; its hard disk
    limit in KiB whether running or not."""
    ram, swap, cpus, disk = (values.get(k) for k in ("ram", "swap", "cpus", "diskspace"))
    hard = disk[1] if isinstance(disk, tuple) and isinstance(disk[1], int) else 0
    on = 1 if running else 0
    return {
        "ram": on * _bounded(ram) * units.PAGE if isinstance(ram, int) else 0,
        "swap": on * _bounded(swap) * units.PAGE if isinstance(swap, int) else 0,
        "cpus": on * cpus if isinstance(cpus, int) else 0,
        "disk": _bounded(hard),
    }


def _before(ctid: int, observed: ObservedState) -> Usage:
    have = observed.containers.get(ctid)
    if have is None or not have.listed:
        return dict.fromkeys(RESOURCES, 0)
    return usage(have.saved, have.is_running)


def _after(change: Change, d: DesiredContainer | None, observed: ObservedState) -> Usage:
    if d is None or change.action == "destroy":
        return dict.fromkeys(RESOURCES, 0)
    have = observed.containers.get(change.ctid)
    values = {**(have.saved if have is not None else {}), **desired_settings(d.spec, d.name)}
    return usage(values, d.spec.state == "running")


_SHOWN: dict[str, tuple[str, str, Callable[[int], str]]] = {
    "ram": ("RAM", "free -b", lambda b: units.format_binary(b, 1)),
    "swap": ("swap", "free -b", lambda b: units.format_binary(b, 1)),
    "disk": ("disk space", "df", lambda k: units.format_binary(k, 1024)),
    "cpus": ("CPUs", "nproc times cpuOvercommit", str),
}


class _Budget:
    """Running totals per resource, in plan order; a change is charged only if it fits."""

    def __init__(self, limits: Limits, start: Usage) -> None:
        self.limits, self.used = limits, start

    def charge(self, delta: Usage) -> list[str]:
        over = []
        for resource in RESOURCES:
            limit = self.limits.get(resource)
            step = delta[resource]
            if limit is not None and step > 0 and self.used[resource] + step > limit:
                what, source, shown = _SHOWN[resource]
                over.append(
                    f"it needs {shown(step)} more {what} but the node has {shown(limit)} "
                    f"({source}) and its containers take {shown(self.used[resource])}"
                )
        if not over:
            for resource in RESOURCES:
                self.used[resource] += max(delta[resource], 0)
        return over


def _template(d: DesiredContainer, facts: NodeFacts, cache: bool = True) -> list[str]:
    """The template cache (not for a container that arrives by vzmigrate: its private area
    comes with it) and the template's arch."""
    name = d.spec.ostemplate
    if name is None:
        return []
    problems = []
    if cache and name not in facts.templates:
        problems.append(
            f"OS template cache {name} is not in {facts.template_dir}/cache on the node "
            f"(vzctl create would exit 91); put {name}.tar.gz there or run 'vztmpl-dl {name}'"
        )
    refusal = arch_refusal(name, facts.arch)
    return [f"ostemplate: {problem}" for problem in problems + ([refusal] if refusal else [])]


def _sample(d: DesiredContainer, facts: NodeFacts) -> list[str]:
    """`config`: the sample vzctl create --config NAME reads (exit 82 when it is missing)."""
    name = d.spec.config
    if name is None or facts.samples is None or name in facts.samples:
        return []
    return [
        f"config: the sample ve-{name}.conf-sample is not in {facts.conf_dir} on the node "
        f"(vzctl create would exit 82); the node has: {', '.join(sorted(facts.samples)) or 'none'}"
    ]


SIMFS_WORKS = "write spec.layout: simfs, which works on this node"


def _layout(d: DesiredContainer, facts: NodeFacts) -> list[str]:
    """`layout`: ploop on a node without it (vzctl create exits 99 after is_ploop_supported()
    finds no /proc/vz/ploop_minor), whether git asks for it or the node's default gives it."""
    if _created_layout(d, facts) != "ploop" or facts.ploop is not False:
        return []
    why = "the kernel has no ploop (no /proc/vz/ploop_minor), so vzctl create would exit 99"
    if d.spec.layout == "ploop":
        return [f"layout: ploop, but {why}; {SIMFS_WORKS}"]
    return [f"layout: not set, so {_node_default(facts)}, but {why}; {SIMFS_WORKS}"]


def _node_default(facts: NodeFacts) -> str:
    if facts.ve_layout:
        return f"vzctl create makes ploop (VE_LAYOUT={facts.ve_layout} in the node's vz.conf)"
    return "vzctl create makes ploop (its default: the node's vz.conf sets no VE_LAYOUT)"


def _created_layout(d: DesiredContainer, facts: NodeFacts) -> Layout:
    return d.spec.layout or facts.default_layout


def _ploop_sizes(d: DesiredContainer, facts: NodeFacts) -> list[str]:
    """A ploop image made by the node's default layout: the limits the loader checks for
    `layout: ploop` (spec/revision.py), which it cannot know the node makes."""
    if d.spec.layout is not None or facts.default_layout != "ploop":
        return []
    values = desired_settings(d.spec, d.name)
    disk, inodes = values.get("diskspace"), values.get("diskinodes")
    default = f"layout: not set, so {_node_default(facts)},"
    problems = []
    if isinstance(disk, tuple) and isinstance(disk[1], int) and disk[1] > PLOOP_MAX_KIB:
        problems.append(
            f"diskspace: {default} and a ploop image is at most 16T (vzctl create would exit "
            "151); write at most 16T, or spec.layout: simfs"
        )
    most = PLOOP_MAX_KIB // PLOOP_KIB_PER_INODE
    if isinstance(inodes, tuple) and isinstance(inodes[1], int) and inodes[1] > most:
        problems.append(
            f"diskinodes: {default} and a ploop image has at most {most} inodes (vzctl create "
            f"would exit 21); write at most {most}, or spec.layout: simfs"
        )
    return problems


def _ploop_resize(change: Change, d: DesiredContainer | None, observed: ObservedState) -> list[str]:
    """`vzctl set --diskspace` resizes a ploop image to the hard limit: past 16T it exits 154."""
    have = observed.containers.get(change.ctid)
    if d is None or have is None or have.saved.get("layout") != "ploop":
        return []
    if change.action in ("create", "recreate") or "diskspace" not in {
        f.field for f in change.fields
    }:
        return []
    disk = desired_settings(d.spec, d.name).get("diskspace")
    if not (isinstance(disk, tuple) and isinstance(disk[1], int) and disk[1] > PLOOP_MAX_KIB):
        return []
    return [
        "diskspace: the container is ploop (VE_LAYOUT in its config) and vzctl set resizes its "
        "image to the hard limit, at most 16T (it would exit 154); write at most 16T"
    ]


def _cpus(change: Change, d: DesiredContainer, facts: NodeFacts) -> list[str]:
    fields = {f.field for f in change.fields}
    new = change.action in ("create", "recreate")
    problems = []
    if d.spec.cpus is not None and (new or "cpus" in fields) and d.spec.cpus > facts.cpus:
        problems.append(f"cpus: {d.spec.cpus} is more than the node's {facts.cpus} CPUs")
    mask = d.spec.cpumask
    bits = cpu_bits(str(mask)) if mask is not None and (new or "cpumask" in fields) else None
    if bits is not None and len(bits) != CPUMASK_BITS:
        missing = sorted(b for b in bits if b >= facts.cpus)
        if missing:
            problems.append(
                f"cpumask: {mask} names CPU{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(str, missing[:8]))}, but the node "
                f"has CPUs 0-{facts.cpus - 1} only"
            )
    return problems


def _needs_node(change: Change, delta: Usage) -> bool:
    fields = {f.field for f in change.fields}
    return (
        change.action in ("create", "recreate")
        or bool({"cpus", "cpumask"} & fields)
        or any(v > 0 for v in delta.values())
    )


def _hold(change: Change, reasons: list[str]) -> Held:
    return Held(
        ctid=change.ctid,
        name=change.name,
        kind="preflight",
        fields=change.fields,
        reason="; ".join(reasons),
    )


def _node_checks(
    change: Change,
    d: DesiredContainer | None,
    facts: NodeFacts,
    budget: _Budget,
    delta: Usage,
    arriving: frozenset[int],
) -> list[str]:
    problems = []
    if d is not None and change.action in ("create", "recreate"):
        made_here = change.ctid not in arriving  # an arriving private area keeps its own
        problems += _template(d, facts, cache=made_here)
        if made_here:
            problems += _sample(d, facts) + (_layout(d, facts) or _ploop_sizes(d, facts))
    if d is not None:
        problems += _cpus(change, d, facts)
    return problems or budget.charge(delta)


def preflight(
    plan: Plan,
    desired: Sequence[DesiredContainer],
    observed: ObservedState,
    facts: NodeFacts | FactsUnknown | None,
    cpu_overcommit: float | None = None,
    arriving: frozenset[int] = frozenset(),
) -> Plan:
    """The plan with every change the node cannot take held, and hostname warnings added.
    `arriving`: containers whose create stands for a move here (no template cache needed)."""
    warnings = (*plan.warnings, *duplicate_hostnames(desired, observed))
    plan = _held_without_facts(plan, desired, observed)
    if not isinstance(facts, NodeFacts):
        facts_reason = facts.reason if isinstance(facts, FactsUnknown) else None
        return _without_node(plan, desired, observed, facts_reason, warnings)
    by_ctid = {d.ctid: d for d in desired}
    deltas = {c.ctid: _delta(c, by_ctid.get(c.ctid), observed) for c in plan.changes}
    budget = _Budget(Limits.of(facts, cpu_overcommit), _start(observed, deltas.values()))
    return _held_where(
        plan,
        lambda c: _node_checks(c, by_ctid.get(c.ctid), facts, budget, deltas[c.ctid], arriving),
        warnings,
    )


def _held_where(
    plan: Plan, problems_of: Callable[[Change], list[str]], warnings: tuple[str, ...]
) -> Plan:
    """The plan with each change that has problems held (checked in plan order)."""
    kept, held = [], list(plan.held)
    for change in plan.changes:
        problems = problems_of(change)
        if problems:
            held.append(_hold(change, problems))
        else:
            kept.append(change)
    return _replaced(plan, kept, held, warnings)


def _held_without_facts(
    plan: Plan, desired: Sequence[DesiredContainer], observed: ObservedState
) -> Plan:
    """The checks that need no node facts (a ploop image's resize)."""
    by_ctid = {d.ctid: d for d in desired}
    return _held_where(
        plan, lambda c: _ploop_resize(c, by_ctid.get(c.ctid), observed), plan.warnings
    )


def _without_node(
    plan: Plan,
    desired: Sequence[DesiredContainer],
    observed: ObservedState,
    reason: str | None,
    warnings: tuple[str, ...],
) -> Plan:
    """Offline (reason None): nothing to check against a node. Unknown facts: hold what needs them."""
    if reason is None:
        return plan.model_copy(update={"warnings": warnings})
    by_ctid = {d.ctid: d for d in desired}
    return _held_where(
        plan,
        lambda c: [reason] if _needs_node(c, _delta(c, by_ctid.get(c.ctid), observed)) else [],
        warnings,
    )


def _replaced(plan: Plan, kept: list[Change], held: list[Held], warnings: tuple[str, ...]) -> Plan:
    return plan.model_copy(
        update={
            "changes": tuple(kept),
            "held": tuple(sorted(held, key=lambda h: h.ctid)),
            "warnings": warnings,
        }
    )


def _delta(change: Change, d: DesiredContainer | None, observed: ObservedState) -> Usage:
    before, after = _before(change.ctid, observed), _after(change, d, observed)
    return {r: after[r] - before[r] for r in RESOURCES}


def _start(observed: ObservedState, deltas: Iterable[Usage]) -> Usage:
    """What the node's containers take now, less what the plan frees (that always applies);
    disk starts at 0: the free space `df` reports already excludes what exists."""
    total = dict.fromkeys(RESOURCES, 0)
    for have in observed.containers.values():
        if have.listed:
            for r, v in usage(have.saved, have.is_running).items():
                total[r] += v
    for delta in deltas:
        for r, v in delta.items():
            total[r] += min(v, 0)
    total["disk"] = 0
    return total


def needs_facts(plan: Plan, desired: Sequence[DesiredContainer], observed: ObservedState) -> bool:
    """Whether any change needs the node's facts (else the reconcile does not ask the node)."""
    by_ctid = {d.ctid: d for d in desired}
    return any(_needs_node(c, _delta(c, by_ctid.get(c.ctid), observed)) for c in plan.changes)


def duplicate_hostnames(
    desired: Sequence[DesiredContainer], observed: ObservedState
) -> tuple[str, ...]:
    """One warning per hostname two or more containers of the node would have."""
    wanted = {d.ctid for d in desired}
    owners: dict[str, list[str]] = {}
    for d in desired:
        if d.spec.state != "absent" and d.spec.hostname:
            owners.setdefault(str(d.spec.hostname).lower(), []).append(f"{d.ctid} ({d.name})")
    for ctid, have in sorted(observed.containers.items()):
        name = have.saved.get("hostname")
        if ctid not in wanted and have.listed and isinstance(name, str) and name:
            owners.setdefault(name.lower(), []).append(str(ctid))
    return tuple(
        f"hostname {host} is used by containers {', '.join(who)}"
        for host, who in sorted(owners.items())
        if len(who) > 1
    )
