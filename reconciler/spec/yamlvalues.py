"""The values a desired-state YAML file can hold, where they are, and the one table that types
plain scalars (pure).

Used by the reader (`yamlsafe`) and by what places its values (`messages`, `revision`): decimal
integers, true/false and null are typed; everything else, `no`, `0101`, `0x1F` or `1e3`
included, is a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_DEPTH = 32
MAX_INT_DIGITS = 30

Scalar = str | int | bool | None
Value = Scalar | list["Value"] | dict[str, "Value"]
Loc = tuple[str | int, ...]
Position = tuple[int, int]  # line and column, from 1
Span = tuple[int, int]  # character offsets in the file's text (without a byte order mark)

INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "false": False}


@dataclass(frozen=True)
class Places:
    """Where each part of one document is: line and column, and span, of each value and key."""

    positions: dict[Loc, Position] = field(default_factory=dict)
    key_positions: dict[Loc, Position] = field(default_factory=dict)
    spans: dict[Loc, Span] = field(default_factory=dict)
    key_spans: dict[Loc, Span] = field(default_factory=dict)


def dotted(loc: Loc) -> str:
    """`('spec', 'ip', 1)` -> `spec.ip[1]`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def plain(text: str) -> Value:
    """The fixed typing table for plain (unquoted) scalars."""
    if text in _NULLS:
        return None
    if len(text) in (4, 5) and text.lower() in _BOOLS:  # only their case variants lower to them
        return _BOOLS[text.lower()]
    if text[0] in "+-0123456789" and INT.fullmatch(text):  # not "": that is a null
        return int(text)
    return text
