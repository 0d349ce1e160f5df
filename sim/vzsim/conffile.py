"""Reading and rewriting `KEY="value"` config files exactly like vzctl 4.x (util.c, config.c).

Reading: `read_text` gives the file's text; it is parsed by `reconciler.node.vzconf.parse_text`, the
parser the reconciler uses too. Key semantics (first duplicate wins, lists accumulate) live in
`ctconf`.

Writing (`save`): existing `KEY=` lines are replaced in place, new keys are appended in the
order given, the result goes to `<file>.tmp` and is renamed over the real file.
"""

from __future__ import annotations

import os

from reconciler.atomicwrite import replace_file


def read_text(path: str) -> str | None:
    """The file's text, line ends as they are (vzctl's fgets() ends a line at `\n` only), or
    None when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def merge(old_text: str | None, new_lines: list[str]) -> str:
    """vps_merge_conf(): replace the first `KEY=` line of each new line in place, else append."""
    lines = (old_text or "").split("\n")
    lines = [line + "\n" for line in (lines[:-1] if lines[-1] == "" else lines)]
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
    replace_file(real, text.encode("utf-8", "surrogateescape"), tmp=real + ".tmp")


def save(path: str, new_lines: list[str]) -> bool:
    """Merge new lines into the file; False (nothing written) when there is nothing to store."""
    if not new_lines:
        return False
    write_atomic(path, merge(read_text(path), new_lines))
    return True


def quote(key: str, value: str) -> str:
    """The stored form of one key: `KEY="value"`, the value written raw (never escaped)."""
    return f'{key}="{value}"'
