"""Reading OpenVZ `KEY="value"` config files exactly as vzctl 4.x does (pure, stdlib only).

The one parser of `vz.conf` and `CTID.conf`: the reconciler (`observe`, `facts`, `identity`)
and the simulator (`sim.conffile`, `sim.ctconf`) both read files with it, so they cannot disagree.
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
Importing this module must stay cheap: every simulated vzctl/vzlist process does, so it uses
str methods only (not even `re`, ~5 ms of start-up for each simulated call).
"""

from __future__ import annotations

TYPE_CHECKING = False  # the typing module would cost import time on every simulated call
if TYPE_CHECKING:
    from collections.abc import Iterator

_BLANK = " \t\r\f\v"  # C isspace() besides "\n", which ends the line

UNMATCHED_QUOTES = "unmatched quotes"
NO_EQUALS = "'=' not found"


class Entry:
    """One `KEY=value` line of a config file, with its 1-based line number."""

    __slots__ = ("key", "line", "value")

    def __init__(self, line: int, key: str, value: str) -> None:
        self.line = line
        self.key = key
        self.value = value


def unescape(text: str) -> str:
    """vzctl unescapestr(): drop each backslash and keep the character after it as it is."""
    if "\\" not in text:
        return text
    out: list[str] = []
    escaped = False
    for char in text:
        if char == "\\" and not escaped:
            escaped = True
            continue
        out.append(char)
        escaped = False
    return "".join(out)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(number, line with its blanks cut) of each line that is neither blank nor a comment."""
    for number, raw in enumerate(unescape(text).split("\n"), 1):
        line = raw.strip(_BLANK)
        if line and line[0] != "#":
            yield number, line


def _split(line: str) -> tuple[str, str | None, str]:
    """parse_line() on a cut line: (key, value, "") or (key, None, why the line is skipped)."""
    key, equals, value = line.partition("=")
    if not equals:
        return key, None, NO_EQUALS
    if value[:1] == '"':
        close = value.rfind('"')
        if close == 0:
            return key, None, UNMATCHED_QUOTES
        value = value[1:close]
    return key, value, ""


def parse_text(
    text: str, wanted: frozenset[str] | None = None
) -> tuple[list[Entry], list[tuple[int, str]]]:
    """Entries in file order (only `wanted` keys if given) and (line, reason) of skipped lines."""
    entries: list[Entry] = []
    problems: list[tuple[int, str]] = []
    for number, line in _lines(text):
        key, value, why = _split(line)
        if value is None:
            problems.append((number, why))
        elif wanted is None or key in wanted:
            entries.append(Entry(number, key, value))
    return entries, problems


def parse_conf(text: str) -> dict[str, str]:
    """`KEY="value"` lines -> {KEY: value}, in file order; the first of duplicate keys wins."""
    values: dict[str, str] = {}
    for _, line in _lines(text):
        key, value, _ = _split(line)
        if value is not None and key not in values:
            values[key] = value
    return values


def first_value(text: str, key: str) -> str | None:
    """`parse_conf(text).get(key)`, reading only the lines where `key` occurs (one container's
    `VE_PRIVATE` on every plan, for each owned container)."""
    text = unescape(text)
    at = text.find(key)
    while at >= 0:
        start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
        line = text[start : end if end >= 0 else len(text)].strip(_BLANK)
        found, value, _ = _split(line) if line.startswith(key) else ("", None, "")
        if found == key and value is not None:
            return value
        at = text.find(key, at + len(key))
    return None
