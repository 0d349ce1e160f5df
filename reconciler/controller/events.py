"""Structured event lines on stderr, one line per event, as text or JSON (shell).

Used by the controller, the webhook and the metrics endpoints. Every line carries `ts`, `level`
and `event`, then `revision` and `ctid` when the event has them, then the other fields. Callers
pass only values vzgitops produced itself (shas, ctids, counts, messages); secrets, signature
headers and payloads never reach this module. Text lines quote values that contain spaces or
control characters, so one event is always exactly one line.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Literal, Protocol, TextIO

Level = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
_FIRST = ("revision", "ctid")
_BARE = re.compile(r"[A-Za-z0-9_.:/@+-]+")


class Logger(Protocol):
    """What emits events: `log("info", "reconcile.applied", revision=sha)`."""

    def __call__(self, level: Level, event: str, /, **fields: object) -> None: ...


def timestamp(at: float) -> str:
    """RFC 3339 UTC with milliseconds: 2024-05-01T12:00:00.123Z."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
    return f"{whole}.{int(at * 1000) % 1000:03d}Z"


def _ordered(fields: dict[str, object]) -> list[tuple[str, object]]:
    first = [(k, fields[k]) for k in _FIRST if fields.get(k) is not None]
    rest = [(k, v) for k, v in fields.items() if k not in _FIRST and v is not None]
    return first + rest


def _text_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if _BARE.fullmatch(text) else json.dumps(text)


def format_line(
    fmt: LogFormat, at: float, level: Level, event: str, fields: dict[str, object]
) -> str:
    """One event as one line, without the newline (pure)."""
    pairs = _ordered(fields)
    if fmt == "json":
        record = {"ts": timestamp(at), "level": level, "event": event, **dict(pairs)}
        return json.dumps(record, default=str, ensure_ascii=True)
    shown = " ".join(f"{key}={_text_value(value)}" for key, value in pairs)
    return f"{timestamp(at)} {level} {event}" + (f" {shown}" if shown else "")


class EventLog:
    """A `Logger` writing to a stream (stderr by default); safe to call from any thread."""

    def __init__(
        self,
        fmt: LogFormat = "text",
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fmt: LogFormat = fmt
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self, level: Level, event: str, /, **fields: object) -> None:
        line = format_line(self._fmt, self._clock(), level, event, fields) + "\n"
        stream = self._stream if self._stream is not None else sys.stderr
        with self._lock:
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed stderr must not stop the controller
