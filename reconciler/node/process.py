"""The one module that spawns processes (shell layer; called by observe and apply).

Every command is an argument list, never a shell string, and every call has a timeout. Callers
depend on the `Runner` protocol so tests can count or wrap calls while still running the real
simulated vzctl/vzlist executables.
"""

from __future__ import annotations

import contextlib
import locale
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from reconciler.errors import CommandTimeout, ToolMissing

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
        with _output_file() as out:
            try:
                done = subprocess.run(
                    args,
                    stdout=subprocess.PIPE if out is None else out,
                    stderr=subprocess.PIPE,
                    timeout=timeout,
                    env=dict(self.env) if self.env is not None else None,
                    stdin=subprocess.DEVNULL,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise CommandTimeout(
                    f"{argv[0]} {' '.join(argv[1:3])}: no answer after {timeout:g}s"
                ) from exc
            stdout = _text(done.stdout if out is None else _read_back(out))
        stderr = _text(done.stderr)
        return Completed(tuple(argv), done.returncode, stdout, stderr, time.monotonic() - started)


def run_bytes(
    argv: Sequence[str], timeout: float, *, detach: bool = False
) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of one command whose argv[0] is already resolved (ssh).

    With `detach` the command leaves a process running when it exits (`ssh -M -f`): its output
    goes to anonymous files instead of pipes, so waiting for the command does not wait for what
    it leaves behind, which holds the pipes open. CommandTimeout past `timeout`."""
    if detach:
        return _run_detached(argv, timeout)
    done = _run(argv, timeout, subprocess.PIPE, subprocess.PIPE)
    return done.returncode, done.stdout, done.stderr


def _run_detached(argv: Sequence[str], timeout: float) -> tuple[int, bytes, bytes]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        done = _run(argv, timeout, out, err)
        out.seek(0)
        err.seek(0)
        return done.returncode, out.read(), err.read()


def _run(
    argv: Sequence[str], timeout: float, out: IO[bytes] | int, err: IO[bytes] | int
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise CommandTimeout(f"{argv[0]}: no answer after {timeout:g}s") from exc


@contextlib.contextmanager
def _output_file() -> Iterator[int | None]:
    """An anonymous in-memory file for a command's standard output, or None (then a pipe).

    It is read back in one piece of exactly its size. Through a pipe, `subprocess` holds what it
    read in pieces and joined at once, so vzlist's listing (~18 MB at 10,000 containers) was in
    memory three times over (pieces, bytes, text); now at most twice (bytes, text).
    """
    try:
        fd = os.memfd_create("vzgitops-output", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux, or no memfd: a pipe does the same job
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _read_back(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    with open(fd, "rb", buffering=0, closefd=False) as output:
        return output.read()


def _text(data: bytes) -> str:
    """What `text=True` makes of a command's output: the locale's encoding, universal newlines."""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")
