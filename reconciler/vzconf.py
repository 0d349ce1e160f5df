"""Reading OpenVZ `KEY="value"` config files exactly as vzctl 4.x does (pure, stdlib only).

The one parser of `vz.conf` and `CTID.conf`: the reconciler (observe, ownership, state) and
the simulator (`sim.conffile`, `sim.ctconf`) both read files with it, so they cannot disagree.
It follows vzctl 4.11 `parse_line()` (src/lib/util.c), which `vps_parse_config()`
(src/lib/config.c) calls for every `\\n`-ended line (../shared/openvz/REFERENCE.md §2.1):

- backslashes are un-escaped first (`\\x` is `x`, a lone trailing `\\` disappears);
- leading and trailing C `isspace` blanks (space, `\\t\\n\\v\\f\\r`) are cut; a blank line or
  one starting with `#` is skipped;
- the key is all text before the first `=`, not stripped: `A = 1` sets the key `A `, which no
  caller reads, so it is ignored like any unknown key;
- a value that starts with `"` runs to the *last* `"` on the line (embedded quotes survive, text
  after it is dropped); without a closing quote the line is skipped ("unmatched quotes"), so
  `A="abc` sets nothing; any other value runs to the end of the line, blanks after `=` kept;
- a line without `=` is skipped ("'=' not found").

Key semantics beyond that (which duplicate wins, lists that accumulate) belong to the callers:
`parse_conf` gives the first occurrence of each key, as vzctl keeps it for the keys the
reconciler reads; `sim.ctconf` applies vzctl's per-key rules to `parse_text`'s entries.
Importing this module must stay cheap: every simulated vzctl/vzlist process does.
"""

from __future__ import annotations

import re

_BLANK = " \t\r\f\v"  # C isspace() besides "\n", which ends the line
# One line, found by the "\n" before it (the text gets a leading one: searching for a literal
# is faster than a multi-line `^`, ~25% here), its leading blanks cut (the lookahead forbids
# giving any back). Groups: key, "=", quoted value, an opening quote without its closing one,
# unquoted value, a line without "=".
_LINE = re.compile(
    rf"\n[{_BLANK}]*(?=[^{_BLANK}\n#])"
    rf'(?:([^=\n]*)(=)(?:"(.*)"[^\n]*|(")[^\n]*|(.*?)[{_BLANK}]*)|(.+?)[{_BLANK}]*)(?=\n|\Z)'
)
_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)

UNMATCHED_QUOTES = "unmatched quotes"
NO_EQUALS = "'=' not found"


class Entry:
    """One `KEY=value` line of a config file; its 1-based `line` is counted only when asked for."""

    __slots__ = ("_line", "_pos", "_text", "key", "value")

    def __init__(self, key: str, value: str, text: str = "", pos: int = 0, line: int = 0) -> None:
        self._line, self._text, self._pos = line, text, pos
        self.key = key
        self.value = value

    @property
    def line(self) -> int:
        if self._line <= 0:
            self._line = self._text.count("\n", 0, self._pos) + 1
        return self._line


def unescape(text: str) -> str:
    """vzctl unescapestr(): drop each backslash and keep the character after it as it is."""
    return _ESCAPE.sub(r"\1", text) if "\\" in text else text


def parse_text(
    text: str, wanted: frozenset[str] | None = None
) -> tuple[list[Entry], list[tuple[int, str]]]:
    """Entries in file order (only `wanted` keys if given) and (line, reason) of skipped lines."""
    text = "\n" + unescape(text)
    entries: list[Entry] = []
    problems: list[tuple[int, str]] = []
    for match in _LINE.finditer(text):
        key, equals, quoted, unmatched, plain, _ = match.groups()
        if not equals or unmatched:
            line = text.count("\n", 0, match.start()) + 1
            problems.append((line, UNMATCHED_QUOTES if equals else NO_EQUALS))
        elif wanted is None or key in wanted:
            entries.append(Entry(key, plain if quoted is None else quoted, text, match.start()))
    return entries, problems


def parse_conf(text: str) -> dict[str, str]:
    """`KEY="value"` lines -> {KEY: value}, in file order; the first of duplicate keys wins."""
    values: dict[str, str] = {}
    for key, equals, quoted, unmatched, plain, _ in _LINE.findall("\n" + unescape(text)):
        if equals and not unmatched and key not in values:
            values[key] = quoted or plain
    return values


def first_value(text: str, key: str) -> str | None:
    """`parse_conf(text).get(key)`, reading only the lines where `key` occurs (one container's
    `VE_PRIVATE` on every plan, for each owned container)."""
    text = "\n" + unescape(text)
    at = text.find(key)
    while at >= 0:
        match = _LINE.match(text, text.rfind("\n", 0, at))
        if match and match.group(1) == key and match.group(2) and not match.group(4):
            return match.group(3) if match.group(3) is not None else match.group(5)
        at = text.find(key, at + len(key))
    return None
