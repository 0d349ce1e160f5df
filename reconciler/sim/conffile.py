"""Reading and rewriting `KEY="value"` config files exactly like vzctl 4.x (util.c, config.c).

Reading (`parse_text`): backslashes are un-escaped, blank and `#` lines skipped, a quoted value
runs to the *last* quote on the line, an unquoted one to the end of the line (comments
included). Key semantics (first duplicate wins, lists accumulate) live in `ctconf`.

Writing (`save`): existing `KEY=` lines are replaced in place, new keys are appended in the
order given, the result goes to `<file>.tmp` and is renamed over the real file.
"""

from __future__ import annotations

import os

_WS = " \t\n\r\f\v"


class Entry:
    """One `KEY=value` line of a config file; `line` is counted only when asked for."""

    __slots__ = ("_line", "_pos", "_text", "key", "value")

    def __init__(self, line: int, key: str, value: str, text: str = "", pos: int = 0) -> None:
        self._line, self._text, self._pos = line, text, pos
        self.key = key
        self.value = value

    @property
    def line(self) -> int:
        if self._line <= 0:
            self._line = self._text.count("\n", 0, self._pos) + 1
        return self._line


def _unescape(text: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in text:
        if ch == "\\" and not escaped:
            escaped = True
            continue
        out.append(ch)
        escaped = False
    return "".join(out)


def _value(raw: str) -> str | None:
    value = raw.rstrip(_WS)
    if value.startswith('"'):
        close = value.rfind('"')
        return None if close == 0 else value[1:close]
    return value


def _find_wanted(text: str, wanted: frozenset[str]) -> list[Entry] | None:
    """Entries of the wanted keys found with str.find; None when the slow path is needed."""
    if "\\" in text or "\n " in text or "\n\t" in text or text[:1] in (" ", "\t"):
        return None
    found: list[tuple[int, str, str]] = []
    for key in wanted:
        needle = "\n" + key + "="
        starts = [0] if text.startswith(key + "=") else []
        hit = text.find(needle)
        while hit >= 0:
            starts.append(hit + 1)
            hit = text.find(needle, hit + 1)
        for pos in starts:
            end = text.find("\n", pos)
            value = _value(text[pos + len(key) + 1 : end if end >= 0 else len(text)])
            if value is None:
                return None
            found.append((pos, key, value))
    found.sort()
    return [Entry(0, key, value, text, pos) for pos, key, value in found]


def parse_text(
    text: str, wanted: frozenset[str] | None = None
) -> tuple[list[Entry], list[tuple[int, str]]]:
    """Entries in file order (only `wanted` keys if given) and (line, reason) parse problems."""
    if wanted is not None:
        fast = _find_wanted(text, wanted)
        if fast is not None:
            return fast, []
    entries: list[Entry] = []
    problems: list[tuple[int, str]] = []
    for lineno, raw in enumerate(text.split("\n"), 1):
        if "\\" in raw:
            raw = _unescape(raw)
        line = raw.strip(_WS)
        if not line or line[0] == "#":
            continue
        eq = line.find("=")
        if eq < 0:
            problems.append((lineno, "'=' not found"))
            continue
        key = line[:eq]
        if wanted is not None and key not in wanted:
            continue
        value = line[eq + 1 :]
        if value.startswith('"'):
            close = value.rfind('"')
            if close == 0:
                problems.append((lineno, "unmatched quotes"))
                continue
            value = value[1:close]
        entries.append(Entry(lineno, key, value))
    return entries, problems


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def merge(old_text: str | None, new_lines: list[str]) -> str:
    """vps_merge_conf(): replace the first `KEY=` line of each new line in place, else append."""
    lines = (old_text or "").splitlines(keepends=True)
    for new in new_lines:
        prefix = new[: new.index("=") + 1]
        for i, old in enumerate(lines):
            if old.startswith(prefix):
                lines[i] = new
                break
        else:
            lines.append(new)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def write_atomic(path: str, text: str) -> None:
    """Write `<real path>.tmp` and rename it over the real file, as vzctl write_conf() does."""
    real = os.path.realpath(path)
    tmp = real + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(text)
    os.rename(tmp, real)


def save(path: str, new_lines: list[str]) -> bool:
    """Merge new lines into the file; False (nothing written) when there is nothing to store."""
    if not new_lines:
        return False
    write_atomic(path, merge(read_text(path), new_lines))
    return True


def quote(key: str, value: str) -> str:
    """The stored form of one key: `KEY="value"`, the value written raw (never escaped)."""
    return f'{key}="{value}"'
