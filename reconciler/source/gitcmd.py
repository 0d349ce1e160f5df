"""Running git, hardened (shell): the only place a git process is started, through GitPython.

Every git process gets the same hardening: config that could run code is overridden with `-c`,
system and global config are ignored, prompts are disabled, and only https, ssh and file
transports are allowed. Callers pass only validated values (`names`), after `--` or
`--end-of-options`; object names for `cat-file --batch` go to git's standard input from an
in-memory file, never onto the command line.
"""

from __future__ import annotations

import os
import time
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

from git import Git

from reconciler.source.names import CONTROL_RE

_TRUE = "/bin/true"
_SSH_COMMAND = "ssh -o BatchMode=yes"

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

# Merged over the inherited environment of every git process (GitPython cannot remove variables).
GIT_ENV: Mapping[str, str] = types.MappingProxyType(
    {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": "0",
        "GIT_CONFIG_PARAMETERS": "",
        "GIT_ALLOW_PROTOCOL": "https:ssh:file",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": _TRUE,
        "SSH_ASKPASS": _TRUE,
        "SSH_ASKPASS_REQUIRE": "never",
        "GCM_INTERACTIVE": "never",
        "GIT_SSH_COMMAND": _SSH_COMMAND,
        "GIT_PAGER": "cat",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_OPTIONAL_LOCKS": "0",
    }
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


def run(
    git_dir: Path,
    args: Sequence[str],
    *,
    config: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Result:
    """Run one hardened git command on `git_dir`; `args` must hold no unvalidated input."""
    argv = git_argv(git_dir, args, config)
    started = time.monotonic()
    result = Git(str(git_dir)).execute(
        argv,
        with_extended_output=True,
        with_exceptions=False,
        kill_after_timeout=timeout,
        env={**GIT_ENV, **(env or {})},
    )
    status, out, err = result
    late = timeout is not None and time.monotonic() - started >= timeout
    return Result(status, out, err, late and status < 0)


class RawResult(NamedTuple):
    status: int
    out: bytes
    err: str


def run_raw(git_dir: Path, args: Sequence[str], names: Sequence[str] | None = None) -> RawResult:
    """A hardened `git ARGS` whose output is bytes, as git wrote it (paths, blobs).

    `names`, if given, go to git's standard input one per line (`cat-file --batch`); each must
    be a single line, or it would smuggle in another request."""
    if names is None:
        return _execute_raw(git_dir, args, None)
    if any("\n" in name or "\0" in name for name in names):
        raise ValueError("an object name for git holds a line break")
    fd = os.memfd_create("vzgitops-git-input", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as stdin:
        stdin.write("".join(f"{name}\n" for name in names).encode())
        stdin.seek(0)
        return _execute_raw(git_dir, args, stdin)


def _execute_raw(git_dir: Path, args: Sequence[str], stdin: BinaryIO | None) -> RawResult:
    status, out, err = Git(str(git_dir)).execute(
        git_argv(git_dir, args),
        istream=stdin,
        with_extended_output=True,
        with_exceptions=False,
        env=dict(GIT_ENV),
        stdout_as_string=False,
        strip_newline_in_stdout=False,
    )
    text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
    return RawResult(status, bytes(out), text)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return CONTROL_RE.sub("", lines[-1]) if lines else "no output"
