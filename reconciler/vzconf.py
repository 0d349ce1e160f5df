"""Reading OpenVZ `KEY="value"` config files the way vzctl 4.x does (pure, stdlib only).

Facts from vzctl's parser (REFERENCE §2.1): `#` comments and blank lines are skipped, the value
runs to the last `"` on the line (embedded quotes survive), backslashes are un-escaped, and for
duplicate keys the first occurrence wins.

`parse_conf` reads a whole file with one regular expression (observing a node reads every
config); `parse_conf_lines`, line by line, is the reference it must agree with, and it still
reads the rare file that breaks lines with anything but `\\n`.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_ESCAPE = re.compile(r"\\(.)")
# One assignment per `\n`-started line (the text gets a leading `\n`). The value group is the
# text between the opening quote and the last quote on the line, or, without a closing quote, the
# rest of the line after an opening quote with trailing blanks cut, as `_unquote` does.
_ASSIGNMENT = re.compile(
    r'\n[^\S\n]*([A-Za-z_][A-Za-z0-9_]*)[^\S\n]*=[^\S\n]*"?((?<=").*(?=")|.*\S|)'
)
# What str.splitlines breaks lines at, besides "\n"; `_ASSIGNMENT` knows only "\n".
_OTHER_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _unquote(raw: str) -> str:
    if raw.startswith('"'):
        end = raw.rfind('"')
        raw = raw[1:end] if end > 0 else raw[1:]
    return _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw


def parse_conf_lines(text: str) -> dict[str, str]:
    """The reference parser: `KEY="value"` lines -> {KEY: value}; the first of duplicates wins."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(stripped)
        if match and match.group(1) not in values:
            values[match.group(1)] = _unquote(match.group(2))
    return values


def parse_conf(text: str) -> dict[str, str]:
    """`KEY="value"` lines -> {KEY: value}; the first of duplicate keys wins."""
    if any(brk in text for brk in _OTHER_BREAKS):
        return parse_conf_lines(text)
    pairs: list[tuple[str, str]] = _ASSIGNMENT.findall("\n" + text)
    values = dict(pairs)
    if len(values) != len(pairs):
        values.update(reversed(pairs))  # the first value of a repeated key, in its first place
    if "\\" in text:
        return {key: _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw for key, raw in values.items()}
    return values
