"""A YAML file's bytes as text, or the problem that stops it being read (pure; used by `yamlsafe`).

Size, byte order marks, UTF-8 and the characters PyYAML's reader refuses are checked here first,
so that each refusal carries a line and column instead of a reader's exception.
"""

from __future__ import annotations

import re

from reconciler.errors import Problem

MAX_BYTES = 1 << 20

# What PyYAML's reader refuses, found here first so the message can carry a line and column.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_FOREIGN_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)
_UTF8_BOM = b"\xef\xbb\xbf"


def decode(path: str, data: bytes) -> tuple[str, Problem | None]:
    """The file's text (without a UTF-8 byte order mark), or "" and why it cannot be read."""
    if len(data) > MAX_BYTES:
        size = f"{len(data) / MAX_BYTES:.1f} MiB"
        return "", Problem(path, 0, 0, "", f"file is {size}; at most 1 MiB is read")
    for bom, name in _FOREIGN_BOMS:
        if data.startswith(bom):
            return "", Problem(
                path, 1, 1, "", f"file starts with a {name} byte order mark; save it as UTF-8"
            )
    data = data.removeprefix(_UTF8_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _byte_position(data, exc.start)
        return "", Problem(
            path,
            line,
            col,
            "",
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
        )
    return text, _unprintable(path, text)


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace"))
    return data.count(b"\n", 0, offset) + 1, column + 1


def _unprintable(path: str, text: str) -> Problem | None:
    bad = _NON_PRINTABLE.search(text)
    if bad is None:
        return None
    offset = bad.start()
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    char = bad.group()
    what = "a NUL byte" if char == "\x00" else f"control character U+{ord(char):04X}"
    return Problem(path, line, col, "", f"{what} is not allowed in a YAML file")
