"""Adopting an existing node into git: observed containers -> Container documents (pure).

Each value is written in the form the spec accepts and that normalises back to exactly what the
node stores, so planning right after an import shows no changes. Values that would not pass
validation (a description with a quote, say) are left out, with a warning, rather than copied.
A container whose name vzgitops does not accept (vzctl allows spaces and all digits) cannot be
written as a document at all: `to_document` raises `NameRefused` and `import` skips it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from reconciler import units
from reconciler.errors import NameRefused, UsageError, VzGitopsError
from reconciler.fields import UBC_COUNTERS
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.spec.models import API_VERSION, Container
from reconciler.spec.types import ContainerName, ObjectName

MODELINE = "# Imported by vzgitops from the live node; review it, then commit it.\n"


def _pair(value: tuple[int, int], base: int) -> str | int:
    soft, hard = value
    left = units.format_binary(soft, base) if base > 1 else str(soft)
    right = units.format_binary(hard, base) if base > 1 else str(hard)
    if soft == hard:
        return soft if left == str(soft) else left
    return f"{left}:{right}"


def _items(value: tuple[int, int]) -> str | int:
    soft, hard = ("unlimited" if v == units.LONG_MAX else str(v) for v in value)
    if soft == hard:
        return int(soft) if soft.isdigit() else soft
    return f"{soft}:{hard}"


def _rate(value: int) -> str | int:
    """Bytes/s with a unit (a plain number is refused); 0, no limit, is the same in any unit."""
    return units.format_binary(value) if value else 0


def _netif(value: Any) -> list[dict[str, str]]:
    return [{"ifname": name, **dict(attrs)} for name, attrs in value]


_CONVERT: dict[str, Any] = {
    "ip": list,
    "nameserver": list,
    "searchdomain": list,
    "netif": _netif,
    "ram": units.format_pages,
    "swap": units.format_pages,
    "diskspace": lambda v: _pair(v, 1024),
    "diskinodes": _items,
    "iolimit": _rate,
    "features": dict,
    "capability": dict,
    "devnodes": dict,
    **dict.fromkeys(UBC_COUNTERS, _items),
}
_SKIP = {"name"}
_NAME: TypeAdapter[str] = TypeAdapter(ContainerName)
_NODE: TypeAdapter[str] = TypeAdapter(ObjectName)


def document_name(container: ObservedContainer) -> str:
    """The node's name (or `ct<CTID>`), or `NameRefused` saying why it cannot be used."""
    name = container.name or f"ct{container.ctid}"
    try:
        return _NAME.validate_python(name)
    except ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise NameRefused(
            f"container {container.ctid} skipped: its name is not one vzgitops accepts: {reason}"
        ) from None


def spec_values(container: ObservedContainer) -> dict[str, Any]:
    """Saved canonical values -> spec field values."""
    spec: dict[str, Any] = {"ctid": container.ctid}
    for name, value in container.saved.items():
        if name in _SKIP or (isinstance(value, tuple) and value[:1] == ("unparsable",)):
            continue
        spec[name] = _CONVERT.get(name, lambda v: v)(value)
    spec["state"] = "running" if container.is_running else "stopped"
    return spec


def to_document(
    container: ObservedContainer, node: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """A validated Container document (of `node`, when given) and the warnings for fields that
    had to be left out."""
    name = document_name(container)
    metadata = {"name": name} if node is None else {"name": name, "node": node}
    spec = spec_values(container)
    warnings: list[str] = []
    if spec.get("disabled") is True and spec["state"] == "running":
        spec.pop("disabled")  # started with --force: git cannot say disabled and running
        warnings.append(
            f"container {container.ctid}: disabled left out: it runs although its config says DISABLED=yes"
        )
    while True:
        document = {
            "apiVersion": API_VERSION,
            "kind": "Container",
            "metadata": metadata,
            "spec": spec,
        }
        try:
            Container.model_validate(document)
        except ValidationError as exc:
            bad = {
                str(e["loc"][1])
                for e in exc.errors()
                if len(e["loc"]) > 1 and e["loc"][0] == "spec"
            }
            bad.discard("ctid")
            if not bad or not bad <= set(spec):
                raise
            for field in sorted(bad):
                warnings.append(
                    f"container {container.ctid}: {field} left out: its value on the node does not validate"
                )
                spec.pop(field)
            continue
        return document, warnings


def check_wanted(observed: ObservedState, ctids: Iterable[int] | None) -> list[int]:
    """The CTIDs to import: every listed container, or `ctids`, each of which must be on the node."""
    listed = [ctid for ctid, c in observed.containers.items() if c.listed]
    if ctids is None:
        return listed
    missing = sorted(set(ctids) - set(listed))
    if missing:
        names = ", ".join(map(str, missing))
        raise VzGitopsError(
            f"import --ctid: container(s) {names} not on the node; nothing imported"
        )
    return [ctid for ctid in listed if ctid in set(ctids)]


@dataclass
class Imported:
    """The documents to write, by CTID, and the warnings for what was left out or skipped."""

    docs: dict[int, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def documents(observed: ObservedState, ctids: Iterable[int], node: str | None) -> Imported:
    """The documents for `ctids` (metadata.node set to `node` when given), or `UsageError`."""
    if node is not None:
        try:
            _NODE.validate_python(node)
        except ValidationError as exc:
            reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise UsageError(f"import --node {node!r}: {reason}") from None
    found = Imported()
    for ctid in ctids:
        try:
            document, warnings = to_document(observed.containers[ctid], node)
        except NameRefused as error:
            found.warnings.append(str(error))
            continue
        found.docs[ctid] = document
        found.warnings.extend(warnings)
    return found
