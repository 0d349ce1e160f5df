"""Size and count units as vzctl reads and stores them (pure; used by spec and observe).

vzctl accepts binary suffixes (K, M, G, T), `P` for pages and `B` for bytes, decimals such as
`2.2G`, and `unlimited`. It stores memory in 4 KiB pages, disk space in KiB and UBC counters in
items. Everything here turns a written value into the stored integer so that `2048M` in git and
`524288` pages on the node compare equal.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal, InvalidOperation

PAGE = 4096
LONG_MAX = 9223372036854775807
_SUFFIX = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([BKMGTP]?)$", re.IGNORECASE)


class UnitError(ValueError):
    """A value that is not a size or count vzctl would accept."""


def _split(text: str) -> tuple[Decimal, str]:
    match = _SIZE_RE.match(text.strip())
    if not match:
        raise UnitError(f"{text!r} is not a size (use e.g. 512M, 2G, 2.5G or unlimited)")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only digits
        raise UnitError(f"{text!r} is not a number") from exc
    return number, match.group(2).upper()


@functools.lru_cache(maxsize=4096)  # a fleet repeats a few sizes thousands of times
def to_bytes(text: str, default_unit: str = "B") -> int:
    """`512M` -> 536870912; a bare number is in `default_unit`; `unlimited` -> LONG_MAX."""
    if text.strip().lower() == "unlimited":
        return LONG_MAX
    number, suffix = _split(text)
    scale = PAGE if suffix == "P" else _SUFFIX[suffix or default_unit]
    value = int(number * scale)
    if value > LONG_MAX:
        raise UnitError(f"{text!r} is larger than vzctl's maximum ({LONG_MAX})")
    return value


def to_pages(text: str) -> int:
    """Memory as vzctl's --ram/--swap store it: bytes rounded up to whole pages."""
    value = to_bytes(text)
    if value == LONG_MAX:
        return LONG_MAX
    return math.ceil(value / PAGE)


def to_kib(text: str) -> int:
    """Disk space as DISKSPACE stores it: KiB, a bare number already in KiB (truncated)."""
    value = to_bytes(text, default_unit="K")
    if value == LONG_MAX:
        return LONG_MAX
    return value // 1024


def to_items(text: str) -> int:
    """A UBC counter (num*): a plain number of items, or `unlimited`."""
    stripped = text.strip()
    if stripped.lower() == "unlimited":
        return LONG_MAX
    if not stripped.isdigit():
        raise UnitError(f"{text!r} is not a count (use a whole number or unlimited)")
    value = int(stripped)
    if value > LONG_MAX:
        raise UnitError(f"{text!r} is larger than vzctl's maximum ({LONG_MAX})")
    return value


def format_binary(value: int, base_unit: int = 1) -> str:
    """Largest exact binary suffix: 2147483648 -> `2G`; with base_unit=1024 (KiB) 2097152 -> `2G`."""
    if value == LONG_MAX:
        return "unlimited"
    total = value * base_unit
    for suffix in ("T", "G", "M", "K"):
        scale = _SUFFIX[suffix]
        if total and total % scale == 0 and scale >= base_unit:
            return f"{total // scale}{suffix}"
    return f"{total}B" if base_unit == 1 else str(value)


def format_pages(pages: int) -> str:
    """Pages as the byte size a person wrote: 524288 -> `2G`."""
    if pages == LONG_MAX:
        return "unlimited"
    return format_binary(pages * PAGE)


def pair(text: str) -> tuple[str, str]:
    """`soft:hard` -> (soft, hard); one value -> (v, v)."""
    parts = text.split(":")
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0], parts[1]
    raise UnitError(f"{text!r} is not a value or a soft:hard pair")
