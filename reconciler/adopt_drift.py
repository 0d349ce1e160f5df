"""`vzgitops drift --adopt`: the node's values of drifted fields, committed back into git.

Pure part: which value each drifted field gets (`adoptions`: the running value where it differs,
else the saved one, converted to spec form by the importer's table), and a minimal text edit of
the YAML file (`set_spec_value`) that replaces only the value of one `spec` key, or inserts the
key, keeping every comment and the rest of the layout. Where the value is written comes from the
spec's own reader (`spec.yamlsafe`: the values `load` validated, with their spans).

Shell part (`adopt`): the edited files, once they validate, become one commit on a NEW branch
whose parent is the revision the drift was measured against (`source.commit_on_new_branch`: git
plumbing only, an existing branch is never moved, the work tree, index and HEAD are not touched,
no hook runs, and nothing is pushed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.drift import STATE_FIELD, Drift, live_value
from reconciler.errors import AdoptError, BranchTaken, GitWriteError, UsageError
from reconciler.fields import desired_settings
from reconciler.importer import spec_values
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.source import (
    Revision,
    commit_on_new_branch,
    find_git_dir,
    is_url,
    redact,
    validate_ref,
)
from reconciler.spec.desired import DesiredContainer, DesiredState
from reconciler.spec.load import load_desired
from reconciler.spec.yamlsafe import YamlDocument, load_yaml
from reconciler.spec.yamlvalues import Loc

_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,200}")


@dataclass(frozen=True)
class Adoption:
    """One field of one container: the value to write and where."""

    ctid: int
    name: str
    path: str
    field: str
    value: Any
    note: str | None = None


@dataclass(frozen=True)
class AdoptResult:
    branch: str
    commit: str
    files: tuple[str, ...]
    messages: tuple[str, ...]


# ---- pure: which values -----------------------------------------------------------------------


def _spec_value(field: str, live: Any, have: ObservedContainer) -> Any:
    if field == STATE_FIELD:
        return live
    converted = spec_values(
        ObservedContainer(ctid=have.ctid, status=have.status, saved={field: live})
    )
    return converted.get(field)


def _adoption(d: DesiredContainer, field: str, have: ObservedContainer) -> Adoption | str:
    """The value to write for one drifted field, or why it is left alone."""
    where = f"container {d.ctid} ({d.name}): {field}"
    if field == "name":
        return f"{where}: a rename is not adopted; change metadata.name by hand"
    want = desired_settings(d.spec, d.name).get(field)
    live = live_value(field, want, have)
    if live is None:
        return f"{where}: unset on the node; left as it is in git"
    if isinstance(live, tuple) and live[:1] == ("unparsable",):
        return f"{where}: the node's value {live[1]!r} cannot be read; left as it is in git"
    saved = have.saved.get(field)
    note = None
    if field != STATE_FIELD and saved != live:
        note = f"{where}: adopted the running value; the next apply saves it to the config"
    return Adoption(d.ctid, d.name, d.origin.path, field, _spec_value(field, live, have), note)


def adoptions(
    desired: DesiredState, drift: Drift, observed: ObservedState
) -> tuple[list[Adoption], list[str]]:
    """Every drifted field's adoption, and a message for each one left alone."""
    by_ctid = {d.ctid: d for d in desired.containers}
    found: list[Adoption] = []
    skipped: list[str] = []
    for container in drift.containers:
        d, have = by_ctid[container.ctid], observed.containers[container.ctid]
        for f in container.fields:
            result = _adoption(d, f.field, have)
            if isinstance(result, Adoption):
                found.append(result)
            else:
                skipped.append(result)
    skipped += [
        f"container {m.ctid} ({m.name}) is missing from the node; not adopted (remove it from git or apply)"
        for m in drift.missing
    ]
    skipped += [
        f"container {u.ctid} is on the node but not in git; use 'vzgitops import' to add it"
        for u in drift.unmanaged
    ]
    return found, skipped


# ---- pure: the YAML edit ----------------------------------------------------------------------


def flow(value: Any) -> str:
    """A value as one line of flow-style YAML the spec loader reads back as the same value."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False)
    return text.removesuffix("\n...\n").strip()


def _find_spec(path: str, text: str, name: str) -> YamlDocument:
    """The document of the Container named `name`, read by the spec's own reader."""
    for doc in load_yaml(path, text.encode("utf-8")):
        value = doc.value
        if not isinstance(value, dict) or value.get("kind") != "Container":
            continue
        meta = value.get("metadata")
        if (
            isinstance(meta, dict)
            and meta.get("name") == name
            and isinstance(value.get("spec"), dict)
        ):
            return doc
    raise AdoptError(f"no Container document named {name!r} with a spec mapping found")


def _span(doc: YamlDocument, loc: Loc, *, key: bool = False) -> tuple[int, int]:
    span = doc.span(loc, key=key)
    assert span is not None, loc  # the reader places every value and key it kept
    return span


def set_spec_value(text: str, name: str, key: str, value: Any, path: str = "") -> str:
    """`text` with `spec.<key>` of the Container named `name` set to `value`; comments kept."""
    body = text.removeprefix("\ufeff")  # the reader's offsets do not count a byte order mark
    return text[: len(text) - len(body)] + _set(path or "<text>", body, name, key, value)


def _set(path: str, text: str, name: str, key: str, value: Any) -> str:
    doc = _find_spec(path, text, name)
    assert isinstance(doc.value, dict)
    spec = doc.value["spec"]
    assert isinstance(spec, dict)
    if text[_span(doc, ("spec",))[0]] == "{":
        raise AdoptError(f"the spec of {name!r} is written in flow style; edit {key} by hand")
    if key in spec:
        return _replace(text, doc, ("spec", key), isinstance(spec[key], list | dict), value)
    return _insert(text, doc, ("spec", next(iter(spec))), key, value)


def _replace(text: str, doc: YamlDocument, loc: Loc, collection: bool, value: Any) -> str:
    """The value at `loc` written as `value`; a block collection's lines become one line."""
    start, end = _span(doc, loc)
    if not collection or text[start] in "[{":
        return text[:start] + flow(value) + text[end:]
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    return text[: _span(doc, loc, key=True)[1]] + ": " + flow(value) + text[line_end:]


def _insert(text: str, doc: YamlDocument, first: Loc, key: str, value: Any) -> str:
    """`key: value` on a line of its own before the mapping's first key `first`, as indented."""
    line_start = text.rfind("\n", 0, _span(doc, first, key=True)[0]) + 1
    line = " " * (doc.position(first, key=True)[1] - 1) + f"{key}: {flow(value)}\n"
    return text[:line_start] + line + text[line_start:]


def edit_files(files: Mapping[str, bytes], found: Sequence[Adoption]) -> dict[str, bytes]:
    """The changed files only, each edited once per adopted field."""
    texts: dict[str, str] = {}
    for a in found:
        text = texts.get(a.path, files[a.path].decode("utf-8"))
        texts[a.path] = set_spec_value(text, a.name, a.field, a.value, a.path)
    return {path: text.encode("utf-8") for path, text in texts.items()}


def commit_message(drift: Drift, found: Sequence[Adoption]) -> str:
    lines = [f"Adopt drift from node {drift.node} into git", ""]
    base = drift.revision[:12] if drift.revision else "the working tree"
    lines.append(f"The node's values of these fields differed from {base}:")
    lines += [f"- container {a.ctid} ({a.name}): {a.field} = {flow(a.value)}" for a in found]
    return "\n".join(lines) + "\n\nWritten by vzgitops drift --adopt.\n"


# ---- shell: one commit on a new branch ---------------------------------------------------------


def git_dir_of(repo: Path) -> Path:
    """The git directory of a local clone (work tree, linked worktree or bare repository)."""
    if not repo.is_dir():
        raise UsageError(f"drift --adopt needs a local clone; {repo} is not a directory")
    try:
        return find_git_dir(repo)
    except UsageError as error:
        raise UsageError(f"drift --adopt needs a local clone; {repo} is not one") from error


def check_adoptable(repo: str, branch: str | None) -> None:
    """Refuse `drift --adopt` before the node is read: a URL has no clone to commit into (its
    mirror is vzgitops's own), and a bad `--branch` would only be found after the work."""
    if is_url(repo):
        msg = f"drift --adopt commits into a local clone; --repo {redact(repo)} is a URL (give the clone's path)"
        raise UsageError(msg)
    if branch is not None:
        branch_name(branch, "")


def branch_name(branch: str | None, revision: str) -> str:
    """The new branch's short name; HEAD (anywhere in it) and full ref names are refused, as
    they would read as something else (`refs/heads/HEAD`, `refs/heads/refs/heads/x`)."""
    name = branch or f"vzgitops/adopt-drift-{revision[:12]}"
    bad = not _BRANCH.fullmatch(name) or ".." in name or name.endswith((".lock", "/", "."))
    if bad or "HEAD" in name.split("/") or name.startswith("refs/"):
        msg = f"--branch {name!r} is not a usable branch name (give a short name such as adopt/x); nothing was written"
        raise UsageError(msg)
    return validate_ref(name)


def adopt(
    repo: Path,
    revision: Revision,
    desired: DesiredState,
    drift: Drift,
    observed: ObservedState,
    branch: str | None = None,
) -> AdoptResult:
    """Commit the node's values of the drifted fields on a new branch off `revision`."""
    name = branch_name(branch, revision.sha)
    found, skipped = adoptions(desired, drift, observed)
    if not found:
        raise AdoptError("no drifted field can be adopted; nothing was committed")
    changed = edit_files(revision.files, found)
    load_desired({**revision.files, **changed})  # the branch must validate, or nothing is written
    try:
        commit = commit_on_new_branch(
            git_dir_of(repo), revision.sha, changed, commit_message(drift, found), name
        )
    except BranchTaken as error:
        raise AdoptError(f"--branch {name!r}: {error}; nothing was written") from error
    except GitWriteError as error:
        raise AdoptError(str(error)) from error
    notes = [a.note for a in found if a.note]
    done = f"adopted {len(found)} field(s) into branch {name} at {commit[:12]} (not pushed)"
    return AdoptResult(name, commit, tuple(sorted(changed)), (*skipped, *notes, done))
