"""The values a desired-state YAML file can hold, and the one table that types plain scalars (pure).

Used by the reader (`yamlsafe`) and by what places its values (`messages`, `revision`): decimal
integers, true/false and null are typed; everything else, `no`, `0101`, `0x1F` or `1e3`
included, is a string.
"""

from __future__ import annotations

import re

MAX_DEPTH = 32
MAX_INT_DIGITS = 30

Scalar = str | int | bool | None
Value = Scalar | list["Value"] | dict[str, "Value"]
Loc = tuple[str | int, ...]
Position = tuple[int, int]

INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "false": False}


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
