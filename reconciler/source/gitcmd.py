"""Running git, hardened (shell): the only place a git process is started.

Every git process, reading or writing, gets the same hardening from `git_argv` and `git_env`:
config that could run code is overridden with `-c`; system and global config are ignored; the
inherited `GIT_*` environment is dropped (only where a server hook's quarantined objects are
survives); prompts are disabled; lazy fetching of a partial clone's missing objects is off
(`GIT_NO_LAZY_FETCH`: a repository's promisor remote would run its `uploadpack` command); and
only the mirror's own fetch may use a transport at all (https, ssh or file), every other
command may use none. Callers pass only validated values (`names`), after `--` or
`--end-of-options`; object names for `cat-file --batch` go to git's standard input from an
in-memory file, never onto the command line. Every command has a timeout, and runs in a
session of its own so that the timeout kills its helpers too. GitPython's own command runner
is not used (it can add environment variables, not remove them), nor its config reader
(it followed `include.path=/dev/stdin` to the terminal); it only names the git executable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from subprocess import Popen
from typing import IO, Any, NamedTuple

from git import Git

from reconciler.source.names import CONTROL_RE

_TRUE = "/bin/true"
_SSH_COMMAND = "ssh -o BatchMode=yes"
DEFAULT_TIMEOUT = 120.0

# Passed as `-c` on every git command, so they win over any repository config.
_SAFE_CONFIG: tuple[str, ...] = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    f"core.sshCommand={_SSH_COMMAND}",
    "core.pager=cat",
    f"core.editor={_TRUE}",
    f"core.askPass={_TRUE}",
    "credential.helper=",
    "protocol.allow=never",
    "protocol.https.allow=always",
    "protocol.ssh.allow=always",
    "protocol.file.allow=always",
    "protocol.ext.allow=never",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "http.sslVerify=true",
    "log.showSignature=false",
    "color.ui=never",
    "gpg.program=false",
    "gpg.openpgp.program=false",
    "gpg.x509.program=false",
    "gpg.ssh.program=ssh-keygen",
    f"gpg.ssh.allowedSignersFile={os.devnull}",
    "init.defaultBranch=main",
    "init.templateDir=",
)

# Set on every git process, over an environment with every inherited GIT_* variable removed.
GIT_ENV: Mapping[str, str] = types.MappingProxyType(
    {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": "0",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_ALLOW_PROTOCOL": "",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": _TRUE,
        "SSH_ASKPASS": _TRUE,
        "SSH_ASKPASS_REQUIRE": "never",
        "GCM_INTERACTIVE": "never",
        "GIT_SSH_COMMAND": _SSH_COMMAND,
        "GIT_PAGER": "cat",
        "GIT_EDITOR": _TRUE,
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_OPTIONAL_LOCKS": "0",
    }
)
# What the mirror's fetch may use; every other command gets GIT_ALLOW_PROTOCOL empty: none.
FETCH_PROTOCOLS = "https:ssh:file"
# Kept from the inherited environment for reads: a server hook (examples/ci/pre-receive) sees
# the pushed objects only through these. They say where objects are, never what to run.
_OBJECT_ENV = frozenset(
    {"GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH"}
)


class Result(NamedTuple):
    status: int
    out: str
    err: str
    timed_out: bool


def git_argv(git_dir: Path, args: Sequence[str], config: Sequence[str] = ()) -> list[str]:
    """The full argv of a hardened git command on `git_dir` (pure; `run` executes it)."""
    exe = str(Git.GIT_PYTHON_GIT_EXECUTABLE or "git")
    settings = [arg for item in (*_SAFE_CONFIG, *config) for arg in ("-c", item)]
    return [exe, f"--git-dir={git_dir}", *settings, *args]


def git_env(
    extra: Mapping[str, str] | None = None,
    *,
    network: bool = False,
    inherited: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every git process (pure given `inherited`, default os.environ).

    `network` is for the mirror's own `init` and `fetch`: transports allowed, and no inherited
    object directory (it would send the mirror's objects elsewhere)."""
    base = os.environ if inherited is None else inherited
    keep = frozenset() if network else _OBJECT_ENV
    env = {k: v for k, v in base.items() if not k.startswith("GIT_") or k in keep}
    env.update(GIT_ENV)
    env.update({"LC_ALL": "C", "LANGUAGE": "C"})  # git's messages in English, as parsed here
    if network:
        env["GIT_ALLOW_PROTOCOL"] = FETCH_PROTOCOLS
    env.update(extra or {})
    return env


def run(
    git_dir: Path,
    args: Sequence[str],
    *,
    config: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    network: bool = False,
) -> Result:
    """Run one hardened git command on `git_dir`; `args` must hold no unvalidated input."""
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    argv = git_argv(git_dir, args, config)
    done = _communicate(argv, git_dir, git_env(env, network=network), subprocess.DEVNULL, limit)
    out, err = (part.decode("utf-8", "replace") for part in (done.out, done.err))
    return Result(done.status, out, err, done.timed_out)


def discover(path: Path, *, timeout: float = DEFAULT_TIMEOUT) -> Result:
    """`git rev-parse --absolute-git-dir` in `path` and nowhere above it (a ceiling at its
    parent), hardened like every other command. `path` is declared a safe directory: it is
    the repository the user named, and nothing in its config runs with these settings."""
    where = path.resolve()
    exe = str(Git.GIT_PYTHON_GIT_EXECUTABLE or "git")
    settings = [arg for item in (*_SAFE_CONFIG, f"safe.directory={where}") for arg in ("-c", item)]
    argv = [exe, *settings, "rev-parse", "--absolute-git-dir"]
    env = git_env({"GIT_CEILING_DIRECTORIES": str(where.parent)})
    done = _communicate(argv, where, env, subprocess.DEVNULL, timeout)
    out, err = (part.decode("utf-8", "replace") for part in (done.out, done.err))
    return Result(done.status, out, err, done.timed_out)


class RawResult(NamedTuple):
    status: int
    out: bytes
    err: str


def run_raw(
    git_dir: Path,
    args: Sequence[str],
    names: Sequence[str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> RawResult:
    """A hardened `git ARGS` whose output is bytes, as git wrote it (paths, blobs).

    `names`, if given, go to git's standard input one per line (`cat-file --batch`); each must
    be a single line, or it would smuggle in another request."""
    with _names_file(names) as stdin:
        done = _communicate(git_argv(git_dir, args), git_dir, git_env(), stdin, timeout)
    return RawResult(done.status, done.out, done.err.decode("utf-8", "replace"))


class _Done(NamedTuple):
    status: int
    out: bytes
    err: bytes
    timed_out: bool


def _spawn(argv: list[str], git_dir: Path, env: dict[str, str], stdin: Any) -> Popen[bytes]:
    """git in a session of its own, so that a timeout kills its helpers too (ssh, https)."""
    return Popen(
        argv,
        env=env,
        cwd=git_dir if git_dir.is_dir() else None,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _kill(proc: Popen[bytes]) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _communicate(
    argv: list[str], git_dir: Path, env: dict[str, str], stdin: Any, timeout: float
) -> _Done:
    with _spawn(argv, git_dir, env, stdin) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, err = proc.communicate()
            note = f"\nfatal: no answer after {timeout:g} s".encode()
            return _Done(proc.returncode, out, err + note, True)
        except BaseException:
            _kill(proc)
            raise
    return _Done(proc.returncode, out, err, False)


@contextmanager
def _names_file(names: Sequence[str] | None) -> Iterator[IO[bytes] | int]:
    """An in-memory file holding `names` one per line, or /dev/null for none."""
    if names is None:
        yield subprocess.DEVNULL
        return
    if any("\n" in name or "\0" in name for name in names):
        raise ValueError("an object name for git holds a line break")
    fd = os.memfd_create("vzgitops-git-input", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as stdin:
        stdin.write("".join(f"{name}\n" for name in names).encode())
        stdin.seek(0)
        yield stdin


class Listing(NamedTuple):
    """Standard output read up to a bound: `over` says git was stopped when it was passed."""

    status: int
    out: bytes
    err: str
    over: str


def run_bounded(
    git_dir: Path, args: Sequence[str], *, max_records: int, max_bytes: int, timeout: float
) -> Listing:
    """A hardened `git ARGS` whose NUL-terminated records are read as they come, and git killed
    as soon as there are more than `max_records`, more than `max_bytes` or `timeout` passed:
    a tree with millions of entries costs no more than the bound (`ls-tree -r -z`)."""
    deadline = time.monotonic() + timeout
    with _spawn(git_argv(git_dir, args), git_dir, git_env(), subprocess.DEVNULL) as proc:
        try:
            out, over = _read_bounded(proc, max_records, max_bytes, deadline)
            if over:
                _kill(proc)
            err = _drain(proc, deadline)
        except BaseException:
            _kill(proc)
            raise
        status = proc.wait()
    return Listing(status, out, err, over)


def _read_bounded(
    proc: Popen[bytes], max_records: int, max_bytes: int, deadline: float
) -> tuple[bytes, str]:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    chunks: list[bytes] = []
    size = records = 0
    timer = _Killer(proc, deadline)
    with timer:
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            records += chunk.count(b"\0")
            if records > max_records:
                return b"", "records"
            if size > max_bytes:
                return b"", "bytes"
    return (b"", "time") if timer.fired else (b"".join(chunks), "")


def _drain(proc: Popen[bytes], deadline: float) -> str:
    """git's standard error to its end (so git never blocks on it), its first MiB kept."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    kept = bytearray()
    with _Killer(proc, deadline):
        while chunk := os.read(fd, 1 << 16):
            kept += chunk[: max(0, (1 << 20) - len(kept))]
    return kept.decode("utf-8", "replace")


class _Killer:
    """Kills `proc` at `deadline` while a blocking read waits on it (a timer thread)."""

    def __init__(self, proc: Popen[bytes], deadline: float) -> None:
        self.fired = False
        self._proc = proc
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)

    def _fire(self) -> None:
        self.fired = True
        _kill(self._proc)

    def __enter__(self) -> _Killer:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


_MAX_DETAIL_LINES = 4


def git_error(text: str) -> str:
    """What git said went wrong: its `fatal:`/`error:` lines (else its last lines), joined.

    git prints the cause first and a generic line last ("Could not read from remote
    repository."), so the last line alone drops the cause."""
    lines = [CONTROL_RE.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:")]
    marked = [line for line in lines if line.startswith(("fatal:", "error:"))]
    chosen = list(dict.fromkeys(marked or lines[-_MAX_DETAIL_LINES:]))[:_MAX_DETAIL_LINES]
    return "; ".join(chosen) if chosen else "no output"
