"""Reading OpenVZ `KEY="value"` config files the way vzctl 4.x does (pure, stdlib only).

Facts from vzctl's parser (REFERENCE §2.1): `#` comments and blank lines are skipped, the value
runs to the last `"` on the line (embedded quotes survive), backslashes are un-escaped, and for
duplicate keys the first occurrence wins.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_ESCAPE = re.compile(r"\\(.)")


def _unquote(raw: str) -> str:
    if raw.startswith('"'):
        end = raw.rfind('"')
        raw = raw[1:end] if end > 0 else raw[1:]
    return _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw


def parse_conf(text: str) -> dict[str, str]:
    """`KEY="value"` lines -> {KEY: value}; the first of duplicate keys wins."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(stripped)
        if match and match.group(1) not in values:
            values[match.group(1)] = _unquote(match.group(2))
    return values
