"""Git -> one immutable `Revision`: the only module that talks to git.

The CLI calls `read_revision` or `open_source`; the controller keeps one `Source` (a `LocalSource`
read in place, or a `Mirror` of a URL in the state directory) and calls `fetch`, `read`,
`is_ancestor`, `commits_between` and `verify_signatures` on it. Blobs are read from the object
database through GitPython (never a checkout), so no filter, textconv or work-tree file runs.

Every git process gets the same hardening: config that could run code is overridden with `-c`,
system and global config are ignored, prompts are disabled, and only https, ssh and file
transports are allowed. Nothing that came from a user, a repository or a webhook is ever passed
in an option position: refs, shas, paths and URLs are validated first and placed after `--` or
`--end-of-options`. Network operations are killed after a timeout.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from git import Git, Repo
from git.exc import GitError, NoSuchPathError
from git.objects import Blob, Submodule, Tree
from git.objects.base import IndexObject

from reconciler.errors import Problem, SourceUnavailable, SpecError, UsageError

SHA_RE = re.compile(r"[0-9a-f]{40}")
YAML_SUFFIXES = (".yaml", ".yml")
SUBJECT_MAX = 200

_MODE_SYMLINK = 0o120000
_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/@+-]{0,254}")
_SCP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[^:]")
_URL_SCHEMES = frozenset({"https", "ssh", "file"})
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_REMOTE_HEAD = "refs/vzgitops/remote-head"
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", f"+HEAD:{_REMOTE_HEAD}")
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


@dataclass(frozen=True)
class Limits:
    """Bounds on what one revision may contain; exceeding one is a `SpecError`."""

    max_file_bytes: int = 1 << 20
    max_files: int = 5000
    max_total_bytes: int = 64 << 20


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Revision:
    """The desired state at one commit: every YAML blob under the requested path."""

    sha: str
    ref: str
    files: Mapping[str, bytes] = field(hash=False)
    committed_at: datetime
    subject: str


@dataclass(frozen=True)
class TreeProblem:
    """An entry of the tree that vzgitops refuses to read past, with the reason."""

    path: str
    message: str

    def to_problem(self) -> Problem:
        return Problem(self.path, 0, 0, "", self.message)


class Source(Protocol):
    """What the controller needs from a repository, local or mirrored."""

    def fetch(self) -> None: ...
    def resolve(self, ref: str | None) -> str: ...
    def read(self, ref: str | None, subpath: str = "") -> Revision: ...
    def is_ancestor(self, old_sha: str, new_sha: str) -> bool: ...
    def commits_between(self, old_sha: str | None, new_sha: str) -> list[str]: ...
    def verify_signatures(
        self,
        old_sha: str | None,
        new_sha: str,
        *,
        allowed_signers: Path | None,
        gpg_home: Path | None,
    ) -> list[str]: ...


# --- validation (pure) ---------------------------------------------------------------------------


def validate_ref(ref: str) -> str:
    """Return `ref` if it is a plain branch, tag or sha name (git check-ref-format, stricter)."""
    parts = ref.split("/")
    bad = (
        not _REF_RE.fullmatch(ref)
        or ".." in ref
        or "@{" in ref
        or ref.endswith((".", "/"))
        or any(not p or p.startswith(".") or p.endswith(".lock") for p in parts)
    )
    if bad:
        raise UsageError(f"ref {ref!r} is not a valid branch, tag or commit name.")
    return ref


def validate_sha(sha: str) -> str:
    """Return `sha` if it is a full 40-hex commit id."""
    if not SHA_RE.fullmatch(sha):
        raise UsageError(f"{sha!r} is not a full 40-character commit sha.")
    return sha


def validate_subpath(subpath: str) -> str:
    """Return `subpath` normalised ('' for the root); it must stay inside the repository."""
    pure = PurePosixPath(subpath)
    bad = (
        pure.is_absolute()
        or ".." in pure.parts
        or subpath.startswith("-")
        or "\\" in subpath
        or _CONTROL_RE.search(subpath) is not None
    )
    if bad:
        raise UsageError(f"path {subpath!r} must be relative, inside the repository, without '..'.")
    return "" if str(pure) == "." else str(pure)


def is_url(repo: str) -> bool:
    """Whether `repo` names a remote (scheme://... or scp-like user@host:path), not a path."""
    return "://" in repo or _SCP_RE.match(repo) is not None


def validate_url(url: str) -> str:
    """Return `url` if git may fetch it: https, ssh, file or user@host:path, nothing option-like."""
    if not url or url.startswith("-") or any(c.isspace() for c in url) or _CONTROL_RE.search(url):
        raise UsageError(f"repository URL {redact(url)!r} is not a valid URL.")
    scheme, sep, _ = url.partition("://")
    if not sep:
        if _SCP_RE.match(url):
            return url
        raise UsageError(f"repository URL {redact(url)!r} is not a valid URL.")
    if scheme.lower() not in _URL_SCHEMES:
        raise UsageError(f"repository URL {redact(url)!r} must use https, ssh or file.")
    try:
        parts = urlsplit(url)
        hosts = [parts.netloc, parts.hostname or ""]
    except ValueError:
        hosts = ["-"]
    if any(host.startswith("-") for host in hosts):
        raise UsageError(f"repository URL {redact(url)!r} has an invalid host.")
    return url


def redact(url: str) -> str:
    """`url` without a password or token in it, for messages."""
    if "://" not in url or "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def subject_of(message: str | bytes) -> str:
    """First line of a commit message, control characters removed, at most 200 characters."""
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    first = message.strip().split("\n", 1)[0] if message.strip() else ""
    return _CONTROL_RE.sub("", first).strip()[:SUBJECT_MAX]


# --- running git ---------------------------------------------------------------------------------


class _Result(NamedTuple):
    status: int
    out: str
    err: str
    timed_out: bool


def git_argv(git_dir: Path, args: Sequence[str], config: Sequence[str] = ()) -> list[str]:
    """The full argv of a hardened git command on `git_dir` (pure; `_run` executes it)."""
    exe = str(Git.GIT_PYTHON_GIT_EXECUTABLE or "git")
    settings = [arg for item in (*_SAFE_CONFIG, *config) for arg in ("-c", item)]
    return [exe, f"--git-dir={git_dir}", *settings, *args]


def _run(
    git_dir: Path,
    args: Sequence[str],
    *,
    config: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    ignore_sigpipe: bool = False,
) -> _Result:
    """Run one hardened git command on `git_dir`; `args` must hold no unvalidated input.

    `ignore_sigpipe`: the child keeps Python's SIG_IGN for SIGPIPE, so a write to a helper that
    exited early (a signature program refusing a bogus signature before reading its payload)
    is an error git reports, not a signal that kills it at random."""
    argv = git_argv(git_dir, args, config)
    started = time.monotonic()
    result = Git(str(git_dir)).execute(
        argv,
        with_extended_output=True,
        with_exceptions=False,
        kill_after_timeout=timeout,
        env={**GIT_ENV, **(env or {})},
        restore_signals=not ignore_sigpipe,
    )
    status, out, err = result
    late = timeout is not None and time.monotonic() - started >= timeout
    return _Result(status, out, err, late and status < 0)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _CONTROL_RE.sub("", lines[-1]) if lines else "no output"


@contextmanager
def _open_repo(git_dir: Path) -> Iterator[Repo]:
    """A GitPython Repo whose persistent cat-file processes are hardened and always closed."""
    repo = Repo(git_dir, expand_vars=False)
    try:
        repo.git.set_persistent_git_options(git_dir=str(git_dir), c=list(_SAFE_CONFIG))
        repo.git.update_environment(**GIT_ENV)
        yield repo
    finally:
        repo.close()


def _find_git_dir(path: Path) -> Path:
    """The git directory of a work tree or bare repository at `path` (no parent search)."""
    try:
        repo = Repo(path, expand_vars=False)
    except NoSuchPathError as exc:
        raise UsageError(f"repository {path} does not exist.") from exc
    except (GitError, OSError) as exc:
        raise UsageError(f"{path} is not a git repository (give its top directory).") from exc
    try:
        return Path(repo.git_dir).resolve()
    finally:
        repo.close()


# --- reading one tree ----------------------------------------------------------------------------


def _entry_problem(item: IndexObject, limits: Limits) -> TreeProblem | None:
    path = _path(item)
    if isinstance(item, Submodule):  # checked first: Submodule.name would parse .gitmodules
        return TreeProblem(path, "is a git submodule; vzgitops does not follow submodules")
    name = path.rsplit("/", 1)[-1]
    if name in ("", ".", "..", ".git") or _CONTROL_RE.search(name):
        return TreeProblem(path, "unsafe file name in the git tree")
    if item.mode == _MODE_SYMLINK:
        return TreeProblem(path, "is a symlink; vzgitops reads only regular files from git")
    if isinstance(item, Blob) and _is_yaml(item) and item.size > limits.max_file_bytes:
        msg = f"is {item.size} bytes, over the limit of {limits.max_file_bytes} bytes"
        return TreeProblem(path, msg)
    return None


def _path(item: IndexObject) -> str:
    return os.fspath(item.path)


def _is_yaml(item: IndexObject) -> bool:
    return _path(item).endswith(YAML_SUFFIXES)


def _total_problems(root: str, blobs: list[Blob], limits: Limits) -> list[TreeProblem]:
    where = root or "."
    total = sum(blob.size for blob in blobs)
    problems = []
    if len(blobs) > limits.max_files:
        msg = f"has {len(blobs)} YAML files, over the limit of {limits.max_files}"
        problems.append(TreeProblem(where, msg))
    if total > limits.max_total_bytes:
        msg = f"has {total} bytes of YAML, over the limit of {limits.max_total_bytes} bytes"
        problems.append(TreeProblem(where, msg))
    return problems


def scan_tree(tree: Tree, limits: Limits = DEFAULT_LIMITS) -> tuple[list[Blob], list[TreeProblem]]:
    """YAML blobs under `tree` and every entry that must not be silently skipped."""
    blobs: list[Blob] = []
    problems: list[TreeProblem] = []
    pending = [tree]
    while pending:
        for item in pending.pop():
            problem = _entry_problem(item, limits)
            if problem is not None:
                problems.append(problem)
            elif isinstance(item, Tree):
                pending.append(item)
            elif isinstance(item, Blob) and _is_yaml(item):
                blobs.append(item)
    problems += _total_problems(_path(tree), blobs, limits)
    return sorted(blobs, key=_path), sorted(problems, key=lambda p: p.path)


def _subtree(root: Tree, subpath: str, ref: str, where: str) -> Tree:
    if not subpath:
        return root
    try:
        item = root.join(subpath)
    except KeyError:
        raise UsageError(f"path {subpath!r} not found at ref {ref!r} in {where}.") from None
    if not isinstance(item, Tree):
        raise UsageError(f"path {subpath!r} at ref {ref!r} in {where} is not a directory.")
    return item


def _commit_time(when: datetime) -> datetime:
    """The same instant with a stdlib timezone instead of GitPython's tzoffset."""
    return when.astimezone(timezone(when.utcoffset() or timedelta(0)))


def _read_tree(
    git_dir: Path, sha: str, ref: str, subpath: str, where: str, limits: Limits
) -> Revision:
    with _open_repo(git_dir) as repo:
        commit = repo.commit(sha)
        blobs, problems = scan_tree(_subtree(commit.tree, subpath, ref, where), limits)
        if problems:
            raise SpecError([p.to_problem() for p in problems])
        files = {_path(blob): bytes(blob.data_stream.read()) for blob in blobs}
        return Revision(
            sha=sha,
            ref=ref,
            files=types.MappingProxyType(files),
            committed_at=_commit_time(commit.committed_datetime),
            subject=subject_of(commit.message),
        )


# --- sources -------------------------------------------------------------------------------------


class _GitHistory:
    """Read operations shared by a local repository and a mirror, given a git directory."""

    _default_ref = "HEAD"

    def __init__(self, git_dir: Path, where: str, limits: Limits) -> None:
        self._git_dir = git_dir
        self._where = where
        self._limits = limits

    def _ready(self) -> None:
        """Hook: raise if the git directory cannot be read yet."""

    def resolve(self, ref: str | None) -> str:
        """Branch, tag or (short) commit sha -> full commit sha; None = the default branch."""
        self._ready()
        name = self._default_ref if ref is None else validate_ref(ref)
        spec = f"{name}^{{commit}}"
        res = _run(self._git_dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", spec])
        sha = res.out.strip()
        if res.status != 0 or not SHA_RE.fullmatch(sha):
            shown = "the default branch" if ref is None else f"ref {ref!r}"
            raise UsageError(f"{shown} not found in {self._where}.")
        return sha

    def read(self, ref: str | None, subpath: str = "") -> Revision:
        """The YAML files under `subpath` at `ref`, straight from the object database."""
        clean = validate_subpath(subpath)
        sha = self.resolve(ref)
        asked = ref or "HEAD"
        try:
            return _read_tree(self._git_dir, sha, asked, clean, self._where, self._limits)
        except (GitError, ValueError, OSError) as exc:
            msg = f"reading {self._where} at {sha[:12]} failed: {_last_line(str(exc))}"
            raise SourceUnavailable(msg) from exc

    def is_ancestor(self, old_sha: str, new_sha: str) -> bool:
        """Whether `new_sha` descends from `old_sha` (False after a history rewrite)."""
        old, new = validate_sha(old_sha), self._require_commit(new_sha)
        args = ["merge-base", "--is-ancestor", "--end-of-options", old, new]
        res = _run(self._git_dir, args)
        if res.status in (0, 1):
            return res.status == 0
        if self._has_commit(old):
            self._check(res, "merge-base")
        return False  # `old` is unknown here: rewritten away and collected, so not an ancestor

    def commits_between(self, old_sha: str | None, new_sha: str) -> list[str]:
        """Commits reachable from `new_sha` but not `old_sha`, newest first (all if None)."""
        new = self._require_commit(new_sha)
        span = new if old_sha is None else f"{self._require_commit(old_sha)}..{new}"
        res = _run(self._git_dir, ["rev-list", "--end-of-options", span])
        self._check(res, "rev-list")
        return res.out.split()

    def verify_signatures(
        self,
        old_sha: str | None,
        new_sha: str,
        *,
        allowed_signers: Path | None,
        gpg_home: Path | None,
    ) -> list[str]:
        """Shas in (old, new] (only `new` when old is None) not signed by a trusted key.

        Trusted means git reports `G`: an SSH key listed in `allowed_signers`, or an OpenPGP key
        in the `gpg_home` keyring that git considers valid. Without either, nothing is trusted.
        """
        new = self._require_commit(new_sha)
        if old_sha is None:
            span = ["--no-walk", "--end-of-options", new]
        else:
            span = ["--end-of-options", f"{self._require_commit(old_sha)}..{new}"]
        signers = allowed_signers.resolve() if allowed_signers else os.devnull
        gpg = "gpg" if gpg_home else "false"
        config = [f"gpg.ssh.allowedSignersFile={signers}", f"gpg.program={gpg}"]
        config.append(f"gpg.openpgp.program={gpg}")
        env = {"GNUPGHOME": str(gpg_home.resolve())} if gpg_home else None
        res = _run(
            self._git_dir,
            ["log", "--format=%H %G?", *span],
            config=config,
            env=env,
            ignore_sigpipe=True,
        )
        self._check(res, "log")
        pairs = (line.split() for line in res.out.splitlines() if line.strip())
        return [sha for sha, status in pairs if status != "G"]

    def _has_commit(self, sha: str) -> bool:
        spec = f"{validate_sha(sha)}^{{commit}}"
        res = _run(self._git_dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", spec])
        return res.status == 0

    def _require_commit(self, sha: str) -> str:
        self._ready()
        if not self._has_commit(sha):
            raise UsageError(f"commit {sha} not found in {self._where}.")
        return sha

    def _check(self, res: _Result, verb: str) -> None:
        if res.status != 0:
            msg = f"git {verb} in {self._where} failed: {_last_line(res.err)}"
            raise SourceUnavailable(msg)


class LocalSource(_GitHistory):
    """A repository on this machine (work tree or bare), read in place without cloning."""

    def __init__(self, path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> None:
        where = str(path)
        super().__init__(_find_git_dir(Path(path)), where, limits)

    def fetch(self) -> None:
        """Nothing to fetch: the repository is read as it is."""


class Mirror(_GitHistory):
    """A bare copy of a remote kept in `cache_dir`; `fetch` brings it up to date."""

    _default_ref = _REMOTE_HEAD

    def __init__(
        self,
        url: str,
        cache_dir: Path,
        *,
        timeout: float = 60.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._url = validate_url(url)
        self._cache_dir = Path(cache_dir)
        self._timeout = timeout
        digest = hashlib.sha256(url.encode()).hexdigest()[:24]
        super().__init__(self._cache_dir / f"mirror-{digest}.git", redact(url), limits)

    @property
    def path(self) -> Path:
        """Where the bare mirror lives."""
        return self._git_dir

    def fetch(self) -> None:
        """Create the mirror on first use, then fetch branches, tags and the remote HEAD."""
        if (self._git_dir / "objects").is_dir():
            self._fetch_into(self._git_dir)
            return
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".mirror-", dir=self._cache_dir))
        try:
            self._check(_run(tmp, ["init", "--quiet", "--bare"]), "init")
            self._fetch_into(tmp)
            tmp.rename(self._git_dir)
        except OSError as exc:
            raise SourceUnavailable(f"cannot create the mirror of {self._where}: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def fetch_args(self) -> list[str]:
        """The git arguments of every fetch: the URL only ever after `--`."""
        opts = ["fetch", "--quiet", "--prune", "--no-tags", "--no-recurse-submodules"]
        return [*opts, "--", self._url, *_REFSPECS]

    def _fetch_into(self, git_dir: Path) -> None:
        res = _run(git_dir, self.fetch_args(), timeout=self._timeout)
        if res.timed_out:
            msg = f"git fetch of {self._where} timed out after {self._timeout:g} s"
            raise SourceUnavailable(msg)
        if res.status != 0:
            detail = _last_line(res.err).replace(self._url, self._where)
            raise SourceUnavailable(f"git fetch of {self._where} failed: {detail}")

    def _ready(self) -> None:
        if not (self._git_dir / "objects").is_dir():
            raise SourceUnavailable(f"{self._where} has not been fetched yet.")


def _local_path(repo: str | Path) -> Path:
    if isinstance(repo, Path) or not is_url(repo):
        return Path(repo)
    if validate_url(repo).lower().startswith("file://"):
        return Path(unquote(urlsplit(repo).path))
    raise UsageError(f"{redact(repo)} is remote; open it with a cache directory (open_source).")


def read_revision(
    repo: str | Path,
    ref: str | None = None,
    subpath: str = "",
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Revision:
    """Read the YAML files under `subpath` at `ref` of a local repository or file:// URL."""
    return LocalSource(_local_path(repo), limits=limits).read(ref, subpath)


def open_source(
    repo: str,
    cache_dir: Path,
    *,
    timeout: float = 60.0,
    limits: Limits = DEFAULT_LIMITS,
) -> Source:
    """A `Mirror` for a URL (https, ssh, file://, user@host:path), else a `LocalSource`."""
    if is_url(repo):
        return Mirror(repo, cache_dir, timeout=timeout, limits=limits)
    return LocalSource(repo, limits=limits)
