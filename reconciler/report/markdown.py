"""The markdown renderer: a Report -> one pull-request / merge-request comment (pure).

The comment starts with a hidden marker (CI updates the one comment that carries it), then the
summary: base and head commits, a table per node (create, change, restart, recreate, destroy),
and flags for destructive and restarting changes. Details follow, one collapsed `<details>`
block per container. The whole comment stays under `COMMENT_LIMIT` characters: the summary is
always kept (its lists are bounded), detail blocks are dropped from the end with a note.
Control characters from node values are written as visible escapes (`text.printable`).
"""

from __future__ import annotations

import html

from reconciler.drift import STATE_FIELD, ContainerDrift, Drift
from reconciler.plan import Change
from reconciler.report.model import CommitInfo, NodeSection, Report
from reconciler.report.text import DUMP_NOTE, SIGIL, action_text, command_line, printable, short

COMMENT_LIMIT = 65000
MARKER = "<!-- vzgitops-plan-comment -->"
DRIFT_MARKER = "<!-- vzgitops-drift-report -->"
LIST_LIMIT = 20  # names listed in a summary flag line before "and N more"
_CLASS = {"live": "live", "restart": "**needs restart**", "recreate": "**forces recreate**"}


def cell(text: str | None) -> str:
    """A value as a table cell code span: `|` escaped, no newlines or backticks."""
    if text is None:
        return "_(unset)_"
    clean = text.replace("\n", " ").replace("`", "'").replace("|", "\\|")
    return f"`{clean}`" if clean else "`\u200b`"


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:LIST_LIMIT])
    more = len(items) - LIST_LIMIT
    return shown + (f", and {more} more" if more > 0 else "")


def _commit(label: str, commit: CommitInfo) -> str:
    ref = f" ({html.escape(commit.ref)})" if commit.ref and commit.ref != commit.sha else ""
    subject = f": {html.escape(commit.subject)}" if commit.subject else ""
    return f"**{label}** `{short(commit.sha)}`{ref}{subject}"


def _commits(report: Report) -> list[str]:
    lines = []
    if report.base is not None:
        lines.append(_commit("Base", report.base) + "  ")
    if report.head is not None:
        lines.append(_commit("Head", report.head))
    if not lines:
        lines.append(f"**Revision** `{short(report.revision)}`")
    if report.against == "base":
        lines += ["", "_Offline plan: against the base revision's desired state, not a live node._"]
    elif report.against == "node":
        lines += ["", f"_Planned against the live node `{report.node}`._"]
    return lines


def _count_table(sections: tuple[NodeSection, ...]) -> list[str]:
    rows = [
        "| node | create | change | restart | recreate | destroy | held |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sections:
        c = s.counts
        if s.error is not None:
            rows.append(f"| `{s.node}` | error | | | | | |")
            continue
        rows.append(
            f"| `{s.node}` | {c['create']} | {c['change']} | {c['needs_restart']} "
            f"| {c['recreate']} | {c['destroy']} | {c['held']} |"
        )
    return rows


def _flags(report: Report) -> list[str]:
    changes = report.changes
    destructive = [f"{c.ctid} ({c.name}) {c.action}" for c in changes if c.destructive]
    restarting = [f"{c.ctid} ({c.name})" for c in changes if c.restarts]
    moving = [f"{c.ctid} ({c.name})" for c in changes if c.action == "move"]
    held = [f"{h.ctid} ({h.name}) {h.kind}" for s in report.nodes for h in s.held]
    lines = []
    if destructive:
        lines.append(f":warning: **Destroys data:** {_listing(destructive)}")
    if moving:
        lines.append(f":truck: **Moves to another node (downtime):** {_listing(moving)}")
    if restarting:
        lines.append(f":arrows_counterclockwise: **Restarts:** {_listing(restarting)}")
    if held:
        lines.append(f":pause_button: **Held back:** {_listing(held)}")
    return [line + "  " for line in lines]


def _plan_head(report: Report) -> str:
    lines = [MARKER, f"### vzgitops {report.kind}", "", f"**{html.escape(report.summary)}**", ""]
    if report.partial_warning is not None:
        lines += [f"> {html.escape(report.partial_warning)}", ""]
    lines += [*_commits(report), "", *_count_table(report.nodes), "", *_flags(report)]
    return "\n".join(lines).rstrip() + "\n\n"


def _change_details(change: Change) -> str:
    rows = "".join(
        f"| `{f.field}` | {cell(f.before)} | {cell(f.after)} | {_CLASS[f.change_class]}"
        + (" (running value)" if f.running_only else "")
        + " |\n"
        for f in change.fields
    )
    table = f"| field | before | after | class |\n|---|---|---|---|\n{rows}\n" if rows else ""
    commands = "\n".join(command_line(c.argv, c.tool) for c in change.commands)
    fence = "```"
    while fence in commands:  # a value with backticks cannot close the fence early
        fence += "`"
    flags = (
        (" \u26a0\ufe0f <b>destroys data</b>" if change.destructive else "")
        + (" \U0001f504 <b>restart</b>" if change.restarts else "")
        + (" \U0001f69a <b>downtime</b>" if change.action == "move" else "")
    )  # inside HTML: no markdown, no emoji shortcodes
    return (
        f"<details><summary><code>{html.escape(SIGIL[change.action])}</code> container "
        f"{change.ctid} (<code>{html.escape(change.name)}</code>): <b>{html.escape(action_text(change).removesuffix(DUMP_NOTE))}</b>{DUMP_NOTE if change.dumps_first else ''}{flags}"
        f"</summary>\n\n{html.escape(change.reason)}\n\n{table}{fence}\n{commands}\n{fence}\n</details>\n"
    )


def _plan_blocks(report: Report) -> list[str]:
    blocks: list[str] = []
    several = len(report.nodes) > 1
    for s in report.nodes:
        if several:
            blocks.append(f"\n#### Node `{s.node}`: {html.escape(s.summary)}\n\n")
        if s.error is not None:
            blocks.append(f"- :x: could not be planned: {html.escape(s.error)}\n")
            continue
        blocks += [_change_details(c) for c in s.changes]
        blocks += [
            f"- :pause_button: {h.ctid} ({html.escape(h.name)}) {h.kind}: {html.escape(h.reason)}\n"
            for h in s.held
        ]
        blocks += [f"- :warning: {html.escape(w)}\n" for w in s.warnings]
        blocks += [
            f"- :floppy_disk: backup {b.ctid} ({html.escape(b.name)}): {html.escape(b.policy)}; next due {b.next_due}"
            + (f"; last {b.last}" if b.last else "; never dumped") + "\n"
            for b in s.backups
        ]  # fmt: skip
    return blocks


def fit(head: str, blocks: list[str], limit: int, what: str) -> str:
    """The head whole, then as many blocks as fit with room for the truncation note."""
    if len(head) > limit:  # cannot happen with bounded lists; the limit still wins
        cut = "\n\n_… summary cut at the comment size limit._\n"
        return head[: limit - len(cut)] + cut
    out = head
    for index, block in enumerate(blocks):
        rest = len(blocks) - index
        note = f"\n_… {rest} more {what} not shown: the comment is kept under {limit} characters; run vzgitops locally for the full list._\n"
        if len(out) + len(block) + len(note) > limit:
            return out + note
        out += block
    return out


def _drift_head(drift: Drift, report: Report) -> str:
    c = drift.counts()
    lines = [DRIFT_MARKER, "### vzgitops drift", "", f"**{html.escape(report.summary)}**", ""]
    lines.append(f"**Node** `{drift.node}` against **revision** `{short(drift.revision)}`")
    if report.generated_at:
        lines[-1] += f" at {report.generated_at}"
    lines += [
        "",
        "| checked | drifted | fields | saved only | running only | both | missing | unmanaged |",
    ]
    lines += ["|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines.append(
        f"| {c['checked']} | {c['drifted']} | {c['fields']} | {c['saved_only']} | {c['running_only']} "
        f"| {c['both']} | {c['missing']} | {c['unmanaged']} |"
    )
    lines.append("")
    if drift.missing:
        names = [f"{m.ctid} ({m.name})" for m in drift.missing]
        lines.append(f":x: **Missing from the node:** {_listing(names)}  ")
    if drift.unmanaged:
        names = [f"{u.ctid} ({u.name or '-'}, {u.status})" for u in drift.unmanaged]
        lines.append(f":grey_question: **On the node, not in git:** {_listing(names)}  ")
    return "\n".join(lines).rstrip() + "\n\n"


def _drift_details(c: ContainerDrift) -> str:
    rows = "".join(
        f"| `{f.field}` | {cell(f.desired)} | {cell(f.saved) if f.field != STATE_FIELD else '-'} | {cell(f.running) if f.running is not None else '-'} | {f.where} |\n"
        for f in c.fields
    )
    return (
        f"<details><summary>container {c.ctid} (<code>{html.escape(c.name)}</code>, {c.status}): "
        f"{len(c.fields)} drifted</summary>\n\n"
        f"| field | git | saved config | running | differs |\n|---|---|---|---|---|\n{rows}\n</details>\n"
    )


def _safe(head: str, blocks: list[str]) -> tuple[str, list[str]]:
    """Escaped before fitting, so the limit counts what is shown."""
    return printable(head, keep_newlines=True), [printable(b, keep_newlines=True) for b in blocks]


def render_markdown(report: Report, limit: int = COMMENT_LIMIT) -> str:
    if report.drift is not None:
        head = _drift_head(report.drift, report)
        blocks = [_drift_details(c) for c in report.drift.containers]
        return fit(*_safe(head, blocks), limit, "drifted containers")
    return fit(*_safe(_plan_head(report), _plan_blocks(report)), limit, "changes")
