"""The one module that spawns processes (shell layer; called by observe and apply).

Every command is an argument list, never a shell string, and every call has a timeout. Callers
depend on the `Runner` protocol so tests can count or wrap calls while still running the real
simulated vzctl/vzlist executables.
"""

from __future__ import annotations

import locale
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.errors import VzGitopsError

DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Completed:
    """The result of one finished command."""

    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return (self.stdout + "\n" + self.stderr).strip()


class Runner(Protocol):
    def __call__(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed: ...


class ToolMissing(VzGitopsError):
    """vzctl or vzlist is not on PATH."""


class CommandTimeout(VzGitopsError):
    """A command ran past its timeout and was killed."""


def find_tool(name: str, env: Mapping[str, str] | None = None) -> str:
    """Absolute path of `name` on PATH (the environment's, or os.environ's)."""
    path = (env or os.environ).get("PATH", os.defpath)
    found = shutil.which(name, path=path)
    if found is None:
        raise ToolMissing(f"{name} not found on PATH; install vzctl or run 'vzgitops sim init DIR'")
    return found


@dataclass(frozen=True)
class SubprocessRunner:
    """Runs commands for real, with the tool names resolved on PATH once."""

    env: Mapping[str, str] | None = None

    def __call__(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        args = [find_tool(argv[0], self.env), *argv[1:]]
        started = time.monotonic()
        try:
            done = subprocess.run(
                args,
                capture_output=True,
                timeout=timeout,
                env=dict(self.env) if self.env is not None else None,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeout(
                f"{argv[0]} {' '.join(argv[1:3])}: no answer after {timeout:g}s"
            ) from exc
        stdout, stderr = _text(done.stdout), _text(done.stderr)
        return Completed(tuple(argv), done.returncode, stdout, stderr, time.monotonic() - started)


def _text(data: bytes) -> str:
    """What `text=True` makes of a command's output: the locale's encoding, universal newlines.

    Decoded here, after `subprocess` has let go of the pieces it read: with `text=True` vzlist's
    listing (~18 MB at 10,000 containers) was held three times at once (pieces, bytes, text).
    """
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")
