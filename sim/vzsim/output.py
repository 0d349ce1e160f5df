"""vzctl's logger(): level 0+ messages go to stdout, -1 to stderr, gated by --quiet/--verbose.

Messages vzctl prints with a plain fprintf (usage, getopt errors, `Bad command`) bypass the
gate; use `raw_out`/`raw_err` for those. Every line is flushed at once, like vzctl does, so
output survives a killed (hung) process.
"""

from __future__ import annotations

import sys


def raw_bytes_ok() -> None:
    """Let arguments that are not UTF-8 (kept as surrogates) print as the bytes they were."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")


class Log:
    """Callable as `log(level, message)`."""

    def __init__(self) -> None:
        self.verbose = 0
        self.quiet = False

    def __call__(self, level: int, message: str) -> None:
        if self.quiet or self.verbose < level:
            return
        stream = sys.stderr if level < 0 else sys.stdout
        stream.write(message + "\n")
        stream.flush()

    @staticmethod
    def raw_out(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    @staticmethod
    def raw_err(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()
