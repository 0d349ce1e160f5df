"""A revision's files -> the validated `DesiredState`, or every problem found (pure).

Called by the controller (`load_desired`) and by `vzgitops validate` (`validate_files`). Each
YAML file is read safely (`yamlsafe`), each document's `apiVersion` and `kind` are checked, the
document is validated by its pydantic model, and the valid documents are then checked together
(`revision`). Nothing stops at the first problem: a revision with five mistakes reports five.

Only `*.yaml` and `*.yml` files are documents; anything under a hidden directory (`.github/`)
or named with a leading dot is not, so CI configuration can live in the same repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from pydantic import ValidationError

from reconciler.errors import Problem, SpecError
from reconciler.spec.desired import DesiredState
from reconciler.spec.messages import problems_from
from reconciler.spec.models import API_VERSION, KINDS, MODELS
from reconciler.spec.revision import Entry, build
from reconciler.spec.yamlsafe import YamlDocument, read_yaml

_SUFFIXES = (".yaml", ".yml")
_COMPLETE_UNLESS = frozenset({"Node", "Defaults", ""})


def load_desired(files: Mapping[str, bytes]) -> DesiredState:
    """The desired state of a revision; `SpecError` with every problem if it does not validate."""
    state, problems = _load(files)
    if problems:
        raise SpecError(problems)
    return state


def validate_files(files: Mapping[str, bytes]) -> list[Problem]:
    """Every problem of a revision, sorted by file, line and column; empty when it is valid."""
    return _load(files)[1]


def is_document_path(path: str) -> bool:
    """Whether `path` (repository-relative, `/`-separated) holds desired-state documents."""
    parts = PurePosixPath(path).parts
    return path.endswith(_SUFFIXES) and not any(part.startswith(".") for part in parts)


@dataclass
class _Collected:
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failed_kinds: set[str] = field(default_factory=set)


def _load(files: Mapping[str, bytes]) -> tuple[DesiredState, list[Problem]]:
    collected = _Collected()
    for path in sorted(p for p in files if is_document_path(p)):
        _read_file(path, files[path], collected)
    complete = not (collected.failed_kinds & _COMPLETE_UNLESS)
    state, problems = build(collected.entries, complete)
    everything = collected.problems + problems
    return state, sorted(everything, key=lambda p: (p.path, p.line, p.col, p.field, p.message))


def _read_file(path: str, data: bytes, collected: _Collected) -> None:
    result = read_yaml(path, data)
    if result.problems:
        collected.problems += result.problems
        collected.failed_kinds.add("")
    for doc in result.documents:
        entry, problems = _validate(path, doc)
        if entry is not None:
            collected.entries.append(entry)
            continue
        collected.problems += problems
        kind = doc.value.get("kind") if isinstance(doc.value, dict) else None
        collected.failed_kinds.add(kind if isinstance(kind, str) and kind in KINDS else "")


def _validate(path: str, doc: YamlDocument) -> tuple[Entry | None, list[Problem]]:
    """One document: its header first, then its model."""
    header = _header_problems(path, doc)
    if header:
        return None, header
    assert isinstance(doc.value, dict)
    model = MODELS[str(doc.value["kind"])]
    try:
        validated = model.model_validate(doc.value)
    except ValidationError as exc:
        return None, problems_from(path, doc, model, exc)
    # From here on the model holds the values; the document only places later problems, and its
    # raw values (~30 MiB at 10,000 containers) need not live until the cross-document checks end.
    return Entry(path, doc.without_value(), validated), []


def _header_problems(path: str, doc: YamlDocument) -> list[Problem]:
    if not isinstance(doc.value, dict):
        line, col = doc.position(())
        message = "a document must be a mapping with apiVersion, kind, metadata and spec"
        return [Problem(path, line, col, "", message)]
    problems = []
    version, kind = doc.value.get("apiVersion"), doc.value.get("kind")
    if version != API_VERSION:
        problems.append(_field_problem(path, doc, "apiVersion", version, f"use {API_VERSION}"))
    if kind not in KINDS:
        problems.append(_field_problem(path, doc, "kind", kind, f"use one of {', '.join(KINDS)}"))
    return problems


def _field_problem(path: str, doc: YamlDocument, name: str, value: object, hint: str) -> Problem:
    line, col = doc.position((name,))
    message = f"is required; {hint}" if value is None else f"unknown {name} {value!r}; {hint}"
    return Problem(path, line, col, name, message)
