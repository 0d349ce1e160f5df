"""Whether to colour what a stream shows, and how (pure given the stream and the environment).

Colour only when the stream is a terminal, `NO_COLOR` is unset or empty (https://no-color.org)
and `--no-color` was not given; so a pipe, a file or CI logs never get escape codes. Used by the
CLI's error handler and by examples/demo.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

BOLD, RED, RESET = "\033[1m", "\033[31m", "\033[0m"


def enabled(
    stream: TextIO, *, no_color: bool = False, env: Mapping[str, str] | None = None
) -> bool:
    """True when `stream` may be coloured."""
    environ = os.environ if env is None else env
    if no_color or environ.get("NO_COLOR", ""):
        return False
    try:
        return stream.isatty()
    except ValueError:  # a closed stream
        return False


def paint(text: str, style: str, on: bool) -> str:
    """`text` in `style` when `on`, else `text` unchanged."""
    return f"{style}{text}{RESET}" if on else text
