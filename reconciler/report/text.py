"""The text renderer: a Report -> what a terminal shows (pure; called by `report.render`).

Values read from the node (descriptions, hostnames, names, vzctl's messages) may hold terminal
escape sequences; every line is made `printable` before it is shown.
"""

from __future__ import annotations

import re
import shlex

from reconciler.drift import STATE_FIELD, ContainerDrift, Drift, FieldDrift
from reconciler.plan import BackupLine, Change, Held
from reconciler.report.model import CommitInfo, NodeSection, Report

SIGIL = {
    "create": "+",
    "destroy": "-",
    "recreate": "-/+",
    "update": "~",
    "start": "~",
    "stop": "~",
    "restart": "~",
    "move": "->",
    "restore": "+",
}
CLASS_NOTE = {"restart": " (needs restart)", "recreate": " (forces recreate)"}
DUMP_NOTE = " (dump first)"
WHERE_NOTE = {"saved": "saved config only", "running": "running value only", "both": ""}


# C0 controls, DEL, C1 controls (CSI is \x9b), line/paragraph separators, bidi overrides
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control character written as a visible escape (`\\x1b`), so a value
    from the node cannot move the cursor, retitle the terminal or fake a line."""
    if keep_newlines:
        return "\n".join(printable(line) for line in text.split("\n"))
    return _UNPRINTABLE.sub(_escaped, text)


def short(sha: str | None) -> str:
    return sha[:12] if sha else "(working tree)"


def command_line(argv: tuple[str, ...], tool: str = "vzctl") -> str:
    """A vzctl (or vzdump) call as a person would type it (quoted where needed)."""
    return shlex.join((tool, *argv))


def commit_line(label: str, commit: CommitInfo) -> str:
    ref = f" ({commit.ref})" if commit.ref and commit.ref != commit.sha else ""
    subject = f" {commit.subject}" if commit.subject else ""
    return f"{label} {short(commit.sha)}{ref}{subject}"


def action_text(change: Change) -> str:
    """`restore from ARCHIVE`, `destroy (dump first)`, `update`."""
    if change.action == "restore":
        return f"restore from {change.commands[0].argv[0]}" if change.commands else "restore"
    return change.action + (DUMP_NOTE if change.dumps_first else "")


def backup_line(line: BackupLine) -> str:
    last = f"; last {line.last}" if line.last else "; never dumped"
    return f"  backup container {line.ctid} ({line.name}): {line.policy}; next due {line.next_due}{last}"  # fmt: skip


def _change(change: Change) -> list[str]:
    lines = [
        f"  {SIGIL[change.action]} container {change.ctid} ({change.name}): {action_text(change)}  # {change.reason}"
    ]
    for f in change.fields if change.action != "restore" else ():
        if change.action == "create":
            lines.append(f"      {f.field}: {f.after}")
            continue
        before = f.before if f.before is not None else "(unset)"
        lines.append(f"      {f.field}: {before} -> {f.after}{CLASS_NOTE.get(f.change_class, '')}")
    lines.extend(f"      $ {command_line(c.argv, c.tool)}" for c in change.commands)
    return lines


def _held(held: Held) -> str:
    return f"  ! container {held.ctid} ({held.name}): {held.kind}: {held.reason}"


def _section(section: NodeSection, several: bool, is_plan: bool) -> list[str]:
    lines = [f"Node {section.node}:"] if several else []
    if section.error is not None:
        return [*lines, f"  error: {section.error}"]
    if not section.changes and is_plan:
        held = len(section.held)
        lines.append(
            f"No changes to apply: {held} held; the node does not match git."
            if held
            else "No changes. The node matches git."
        )
    for change in section.changes:
        lines += _change(change)
    lines += [_held(h) for h in section.held]
    lines += [
        f"  ? container {u.ctid} ({u.name or '-'}, {u.status}): unmanaged"
        for u in section.unmanaged
    ]
    lines += [f"  warning: {w}" for w in section.warnings]
    lines += [backup_line(b) for b in section.backups]
    if several:
        lines.append(section.summary)
    return lines


def _heading(report: Report) -> list[str]:
    names = [s.node for s in report.nodes] or [report.node]
    where = f"node {names[0]}" if len(names) == 1 else "nodes " + ", ".join(names)
    if report.head is None and report.base is None:
        return [f"vzgitops {report.kind} for {where} at {short(report.revision)}"]
    lines = [f"vzgitops {report.kind} for {where}"]
    if report.base is not None:
        lines.append(commit_line("base", report.base))
    if report.head is not None:
        lines.append(commit_line("head", report.head))
    if report.against == "base":
        lines.append("offline: planned against the base revision's desired state, not a node")
    return lines


def _apply(report: Report) -> list[str]:
    if report.apply is None:
        return []
    lines = [
        f"  {r.status}: container {r.ctid} ({r.name}) {r.action}"
        + (f": {r.error}" if r.error else "")
        for r in report.apply.results
    ]
    if not report.apply.converged and report.apply.not_converged_reason:
        lines.append(f"Not converged: {report.apply.not_converged_reason}")
    return lines


def _field_drift(f: FieldDrift) -> str:
    saved = f.saved if f.saved is not None else ("-" if f.field == STATE_FIELD else "(unset)")
    running = f.running if f.running is not None else "-"
    note = f"  ({WHERE_NOTE[f.where]})" if WHERE_NOTE[f.where] else ""
    return f"      {f.field}: git {f.desired}, saved {saved}, running {running}{note}"


def _container_drift(c: ContainerDrift) -> list[str]:
    count = len(c.fields)
    head = f"  ~ container {c.ctid} ({c.name}, {c.status}): {count} field{'s' if count != 1 else ''} drifted"
    return [head, *(_field_drift(f) for f in c.fields)]


def drift_lines(drift: Drift) -> list[str]:
    lines: list[str] = []
    for c in drift.containers:
        lines += _container_drift(c)
    lines += [
        f"  - container {m.ctid} ({m.name}): missing from the node (git: {m.desired_state})"
        for m in drift.missing
    ]
    lines += [
        f"  ? container {u.ctid} ({u.name or '-'}, {u.status}): on the node, not in git"
        + (" (owned by vzgitops)" if u.owned else "")
        for u in drift.unmanaged
    ]
    if not drift.running_known:
        lines.append("  ! running values could not be read; only saved configs were compared")
    return lines


def render_text(report: Report) -> str:
    lines = _heading(report)
    if report.partial_warning is not None:
        lines.append(report.partial_warning)
    if report.drift is not None:
        lines += drift_lines(report.drift)
    several = len(report.nodes) > 1
    for section in report.nodes:
        lines += _section(section, several, report.kind == "plan")
    lines += _apply(report)
    lines.append(report.summary)
    return "\n".join(printable(line) for line in lines) + "\n"


def render_outcome(report: Report) -> str:
    """What an apply prints in text once its plan was shown above: the heading, what is left
    to a person (errors, held containers, warnings), what each change came to, and the summary;
    not the plan's changes a second time (`render_text` is the whole report)."""
    lines = _heading(report)
    several = len(report.nodes) > 1
    for section in report.nodes:
        lines += [f"Node {section.node}:"] if several else []
        lines += [f"  error: {section.error}"] if section.error is not None else []
        lines += [_held(h) for h in section.held]
        lines += [f"  warning: {w}" for w in section.warnings]
    lines += _apply(report)
    lines.append(report.summary)
    return "\n".join(printable(line) for line in lines) + "\n"
