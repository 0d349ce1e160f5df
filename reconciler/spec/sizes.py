"""Size fields of the desired state: one reading for every size, and the least a container needs.

Used by `spec.types` to build the size types of `spec.models` (pure). vzctl reads a plain number
as bytes for `--ram`/`--swap`, as KiB for `--diskspace` and as MB/s for `--iolimit`
(../shared/openvz/REFERENCE.md section 4), so `ram: 524288` and `diskspace: 524288` would mean
sizes a thousand times apart. In git a size therefore always carries its unit (B, K, M, G, T, and
P for 4 KiB pages where vzctl keeps memory in pages); the one plain number accepted is 0, which
is the same in every unit. A size is checked after rounding it the way vzctl stores it (memory
up to whole pages, disk space down to whole KiB, I/O limits down to whole bytes), so what is
refused or accepted is what the node would really get.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import WithJsonSchema

from reconciler import units

# vzctl hands `--iolimit` to the kernel as a C int of bytes/s and refuses more (exit 21).
IOLIMIT_MAX = 2147483647
_PLAIN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*$")
_WITH_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)([A-Za-z])\s*$")
_LEADING_NUMBER = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)")
_UNLIMITED = "[Uu][Nn][Ll][Ii][Mm][Ii][Tt][Ee][Dd]"


@dataclass(frozen=True)
class SizeRule:
    """How one kind of size field reads a written value, and what it refuses."""

    what: str  # named in messages: "RAM", "disk space", ...
    stored: Callable[[str], int]  # written text -> what vzctl stores (pages, KiB or bytes)
    show: Callable[[int], str]  # a stored value as a person writes it
    suffixes: str  # the units this field takes, e.g. "BKMGTP"
    meanings: tuple[tuple[str, int], ...]  # what a plain number may have meant: (unit, bytes)
    minimum: int = 0  # stored units; 0 is accepted only when this is 0
    maximum: int = units.LONG_MAX
    zero: str = "nothing"  # what 0 means, for the message when a size rounds to 0

    def check(self, text: str) -> int:
        """The stored value of one written size, or ValueError saying what to write instead."""
        if re.fullmatch(_UNLIMITED, text.strip()):
            return units.LONG_MAX
        plain = _PLAIN.match(text)
        if plain:
            if Decimal(plain.group(1)) != 0:
                raise ValueError(f"{text!r} has no unit; {self._advice(plain.group(1))}")
            return self._bounded(text, 0)
        self._known_unit(text)
        try:
            return self._bounded(text, self.stored(text))
        except units.UnitError as exc:
            raise ValueError(str(exc)) from exc

    def _advice(self, number: str) -> str:
        head = f"write one of {self._unit_names()} after the number"
        if not number.isdigit():
            return f"{head}, e.g. {self.show(self.minimum) if self.minimum else '512M'}"
        meant = [
            f"{units.format_binary(int(number) * b)} if you meant {u}" for u, b in self.meanings
        ]
        return f"{head}: {', or '.join(meant)}"

    def _unit_names(self) -> str:
        names = [("P (4 KiB pages)" if s == "P" else s) for s in self.suffixes]
        return ", ".join(names[:-1]) + f" or {names[-1]}"

    def _known_unit(self, text: str) -> None:
        match = _WITH_UNIT.match(text)
        if match and match.group(2).upper() not in self.suffixes:
            raise ValueError(
                f"{text!r}: {match.group(2)} is not a unit for {self.what} (use {self._unit_names()})"
            )

    def _bounded(self, text: str, value: int) -> int:
        if value < self.minimum:
            raise ValueError(self._too_small(text, value))
        if value == 0 and not _is_zero(text):
            raise ValueError(
                f"{text!r} rounds to 0 as vzctl stores it, which means {self.zero}; write 0 if that is meant, or a larger size"
            )
        if value > self.maximum and value != units.LONG_MAX:
            raise ValueError(
                f"{text!r} is more than {self.show(self.maximum)}, the most vzctl takes for {self.what}"
            )
        return value

    def _too_small(self, text: str, value: int) -> str:
        least, stored = self.show(self.minimum), self.show(value)
        rounded = value != 0 and stored != text.strip().upper()
        shown = f"{text!r} ({stored} as vzctl stores it)" if rounded else repr(text)
        return f"{shown} is less than {least}, the least {self.what} a container can run with; write at least {least}"


def _is_zero(text: str) -> bool:
    match = _LEADING_NUMBER.match(text)
    return match is not None and Decimal(match.group(1)) == 0


def _show_kib(kib: int) -> str:
    return units.format_binary(kib, 1024)


# vswap charges everything a container uses (its processes, and the kernel's memory for it:
# page tables, dentries, socket buffers) to PHYSPAGES, and the kernel OOM-kills inside the
# container once the limit is hit. Below 16M init and vzctl's distro scripts (run inside the
# container at start and on set) cannot run, so no container works with less; 0 pages, which
# `ram: 0.5` used to become, kills every process in it.
RAM = SizeRule(
    what="RAM",
    stored=units.to_pages,
    show=units.format_pages,
    suffixes="BKMGTP",
    meanings=(("bytes", 1), ("4 KiB pages", units.PAGE)),
    minimum=(16 << 20) // units.PAGE,
)
SWAP = SizeRule(
    what="swap",
    stored=units.to_pages,
    show=units.format_pages,
    suffixes="BKMGTP",
    meanings=(("bytes", 1), ("4 KiB pages", units.PAGE)),
    zero="no swap",
)
TOTAL_RAM = SizeRule(
    what="RAM in total",
    stored=units.to_pages,
    show=units.format_pages,
    suffixes="BKMGTP",
    meanings=(("bytes", 1), ("4 KiB pages", units.PAGE)),
    zero="no room for any container",
)
# The smallest OpenVZ OS template caches (the *-minimal ones) unpack to well over 128M, and
# vzquota refuses writes past the soft limit once its grace time is over, so a container with
# less disk space than this cannot hold its own operating system.
DISK = SizeRule(
    what="disk space",
    stored=units.to_kib,
    show=_show_kib,
    suffixes="BKMGT",
    meanings=(("KiB (how vzctl reads a plain number)", 1024), ("bytes", 1)),
    minimum=128 << 10,
)
TOTAL_DISK = SizeRule(
    what="disk space in total",
    stored=units.to_kib,
    show=_show_kib,
    suffixes="BKMGT",
    meanings=(("KiB (how vzctl reads a plain number)", 1024), ("bytes", 1)),
    zero="no room for any container",
)
IOLIMIT = SizeRule(
    what="an I/O limit",
    stored=units.to_bytes,
    show=units.format_binary,
    suffixes="BKMGT",
    meanings=(("MB/s (how vzctl reads a plain number)", 1 << 20), ("bytes/s", 1)),
    maximum=IOLIMIT_MAX,
    zero="no limit",
)


def not_negative(value: int) -> int:
    if value < 0:
        raise ValueError("cannot be negative")
    if value > units.LONG_MAX:
        raise ValueError(f"{value} is larger than vzctl's maximum ({units.LONG_MAX})")
    return value


def size(rule: SizeRule) -> Callable[[str | int], str | int]:
    """A validator: one size read by `rule`; the written value is kept as written."""

    def check(value: str | int) -> str | int:
        rule.check(str(not_negative(value)) if isinstance(value, int) else value)
        return value

    return check


def soft_hard(rule: SizeRule) -> Callable[[str | int], str | int]:
    """A validator: `size` or `soft:size`, each read by `rule`; soft must not exceed hard."""

    def check(value: str | int) -> str | int:
        if isinstance(value, int):
            rule.check(str(not_negative(value)))
            return value
        try:
            soft, hard = units.pair(value)
        except units.UnitError as exc:
            raise ValueError(str(exc)) from exc
        if rule.check(soft) > rule.check(hard):
            raise ValueError(f"{value!r}: the soft limit is above the hard limit")
        return value

    return check


def schema(rule: SizeRule, pair: bool) -> WithJsonSchema:
    """The JSON Schema of a size field: as close to `rule` as a pattern can say it."""
    number = "[0-9]+(?:\\.[0-9]+)?"
    unit = "".join(f"{s}{s.lower()}" for s in rule.suffixes)
    parts = [f"{number}[{unit}]"]
    if rule.minimum == 0:
        parts.append("0+(?:\\.0+)?")
    parts.append(_UNLIMITED)
    one = "|".join(parts)
    text = f"^(?:{one})(?::(?:{one}))?$" if pair else f"^(?:{one})$"
    shapes: list[dict[str, Any]] = [{"type": "string", "pattern": text}]
    if rule.minimum == 0:
        shapes.append({"type": "integer", "enum": [0]})
    return WithJsonSchema({"anyOf": shapes})
