"""One versioned report model and its renderers: text, markdown, JSON (pure).

`build_report` turns a Plan (and optionally an ApplyResult) into a `Report`; JSON is its dump,
and the text and markdown renderers read only the Report, so the three cannot disagree. The
summary line (`Plan: 1 to create, 2 to change, 0 to destroy.`) is a public interface.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.apply import ApplyResult
from reconciler.plan import Change, Held, Plan, Unmanaged

REPORT_VERSION = 1
COMMENT_LIMIT = 65000
Format = Literal["text", "json", "markdown"]


class Report(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    report_version: int = Field(default=REPORT_VERSION, description="Report format version.")
    kind: Literal["plan", "apply"] = Field(description="What produced the report.")
    node: str = Field(description="Node name.")
    revision: str | None = Field(default=None, description="Git commit of the desired state.")
    base_revision: str | None = Field(
        default=None, description="Base commit, for pull-request plans."
    )
    summary: str = Field(description="The summary line.")
    counts: dict[str, int] = Field(description="Changes by action.")
    changes: tuple[Change, ...] = Field(default=(), description="Planned changes in order.")
    held: tuple[Held, ...] = Field(default=(), description="Differences not acted on.")
    unmanaged: tuple[Unmanaged, ...] = Field(
        default=(), description="Containers vzgitops does not own."
    )
    apply: ApplyResult | None = Field(
        default=None, description="What applying did, for apply reports."
    )
    remaining: tuple[Change, ...] = Field(
        default=(), description="Changes still planned after applying."
    )


def _counts(plan: Plan) -> dict[str, int]:
    counts = {
        action: plan.count(action)
        for action in ("create", "update", "start", "stop", "restart", "recreate", "destroy")
    }
    counts["needs_restart"] = sum(1 for c in plan.changes if c.restarts)
    counts["held"] = len(plan.held)
    counts["unmanaged"] = len(plan.unmanaged)
    return counts


def build_report(
    plan: Plan,
    result: ApplyResult | None = None,
    after: Plan | None = None,
    base: str | None = None,
) -> Report:
    summary = plan.summary()
    if result is not None:
        applied = sum(1 for r in result.results if r.status == "applied")
        failed = len(result.failed)
        state = "converged" if result.converged else "not converged"
        summary = f"Apply: {applied} applied, {failed} failed; {state}."
    return Report(
        kind="plan" if result is None else "apply",
        node=plan.node,
        revision=plan.revision,
        base_revision=base,
        summary=summary,
        counts=_counts(plan),
        changes=plan.changes,
        held=plan.held,
        unmanaged=plan.unmanaged,
        apply=result,
        remaining=after.changes if after is not None else (),
    )


# ---- text ------------------------------------------------------------------------------------

_SIGIL = {
    "create": "+",
    "destroy": "-",
    "recreate": "-/+",
    "update": "~",
    "start": "~",
    "stop": "~",
    "restart": "~",
}


def _text_change(change: Change) -> list[str]:
    lines = [
        f"  {_SIGIL[change.action]} container {change.ctid} ({change.name}): {change.action}  # {change.reason}"
    ]
    for f in change.fields:
        flag = {"restart": " (needs restart)", "recreate": " (forces recreate)"}.get(
            f.change_class, ""
        )
        before = f.before if f.before is not None else "(unset)"
        lines.append(f"      {f.field}: {before} -> {f.after}{flag}")
    lines.extend(f"      $ {' '.join(('vzctl', *c.argv))}" for c in change.commands)
    return lines


def _text_held(held: Held) -> str:
    return f"  ! container {held.ctid} ({held.name}): {held.kind}: {held.reason}"


def render_text(report: Report) -> str:
    lines = [f"vzgitops {report.kind} for node {report.node} at {_short(report.revision)}"]
    if report.kind == "plan" and not report.changes:
        lines.append("No changes. The node matches git.")
    for change in report.changes:
        lines += _text_change(change)
    lines += [_text_held(h) for h in report.held]
    lines += [
        f"  ? container {u.ctid} ({u.name or '-'}, {u.status}): unmanaged" for u in report.unmanaged
    ]
    if report.apply is not None:
        lines += _text_apply(report)
    lines.append(report.summary if report.kind == "apply" else _plan_summary(report))
    return "\n".join(lines) + "\n"


def _plan_summary(report: Report) -> str:
    return report.summary


def _text_apply(report: Report) -> list[str]:
    assert report.apply is not None
    lines = []
    for r in report.apply.results:
        lines.append(
            f"  {r.status}: container {r.ctid} ({r.name}) {r.action}"
            + (f": {r.error}" if r.error else "")
        )
    if not report.apply.converged and report.apply.not_converged_reason:
        lines.append(f"Not converged: {report.apply.not_converged_reason}")
    return lines


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "(working tree)"


# ---- json ------------------------------------------------------------------------------------


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"


# ---- markdown --------------------------------------------------------------------------------


def _md_details(change: Change) -> str:
    rows = "\n".join(
        f"| `{f.field}` | `{f.before if f.before is not None else '(unset)'}` | `{f.after}` | {f.change_class} |"
        for f in change.fields
    )
    table = (
        f"| field | before | after | class |\n|---|---|---|---|\n{rows}\n" if change.fields else ""
    )
    commands = "\n".join(" ".join(("vzctl", *c.argv)) for c in change.commands)
    flags = (" :warning: **destroys data**" if change.destructive else "") + (
        " :arrows_counterclockwise: **restart**" if change.restarts else ""
    )
    return (
        f"<details><summary><code>{_SIGIL[change.action]}</code> container {change.ctid} "
        f"(<code>{change.name}</code>): <b>{change.action}</b>{flags}</summary>\n\n"
        f"{change.reason}\n\n{table}\n```\n{commands}\n```\n</details>\n"
    )


def render_markdown(report: Report, limit: int = COMMENT_LIMIT) -> str:
    head = [f"### vzgitops {report.kind}: node `{report.node}`", ""]
    if report.base_revision:
        head.append(f"Base `{_short(report.base_revision)}` → head `{_short(report.revision)}`")
    else:
        head.append(f"Revision `{_short(report.revision)}`")
    c = report.counts
    head += ["", f"**{report.summary}**", "", "| create | change | restart | recreate | destroy |", "|---|---|---|---|---|",
             f"| {c['create']} | {c['update'] + c['start'] + c['stop'] + c['restart']} | {c['needs_restart']} | {c['recreate']} | {c['destroy']} |", ""]  # fmt: skip
    destructive = [ch for ch in report.changes if ch.destructive]
    if destructive:
        head.append(
            ":warning: **Destructive:** "
            + ", ".join(f"{ch.ctid} ({ch.name}) {ch.action}" for ch in destructive)
        )
    restarting = [ch for ch in report.changes if ch.restarts]
    if restarting:
        head.append(
            ":arrows_counterclockwise: **Restarts:** "
            + ", ".join(f"{ch.ctid} ({ch.name})" for ch in restarting)
        )
    head.extend(f"- :pause_button: {h.ctid} ({h.name}) {h.kind}: {h.reason}" for h in report.held)
    text = "\n".join(head) + "\n\n"
    return _fit(text, [_md_details(ch) for ch in report.changes], limit)


def _fit(head: str, blocks: list[str], limit: int) -> str:
    """Keeps the summary whole and as many detail blocks as fit under the comment limit."""
    out = head
    for index, block in enumerate(blocks):
        note = f"\n_… {len(blocks) - index} more changes not shown (comment size limit); run `vzgitops plan` for the full list._\n"
        if len(out) + len(block) + len(note) > limit:
            return out + note
        out += block
    return out


def render(report: Report, fmt: Format) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    return render_text(report)
