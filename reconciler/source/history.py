"""Git -> one immutable `Revision`: the sources vzgitops reads desired state from (shell).

The CLI calls `read_revision` or `open_source`; the controller keeps one `Source` (a `LocalSource`
read in place, or a `Mirror` of a URL in the state directory) and calls `fetch`, `read`,
`is_ancestor`, `commits_between` and `verify_signatures` on it. Reading is two steps, so a
caller that already knows a tree can skip the files: `locate` names the commit and the tree at
the path (two small git calls), `read_at` reads that tree's YAML blobs from the object database
(one `ls-tree`, one `cat-file --batch`; never a checkout, so no filter, textconv or work-tree
file runs). Every git call goes through `gitcmd`, hardened; names are checked by `names`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import tempfile
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from git.exc import GitError

from reconciler.errors import RefNotFound, SourceUnavailable, SpecError, UsageError
from reconciler.source.gitcmd import Result, discover, git_error, run, run_bounded, run_raw
from reconciler.source.names import (
    SHA_RE,
    did_you_mean,
    is_url,
    redact,
    ref_candidates,
    subject_of,
    validate_sha,
    validate_subpath,
    validate_url,
)
from reconciler.source.tree import (
    DEFAULT_LIMITS,
    Entry,
    GitObject,
    Limits,
    listing_problem,
    parse_batch,
    parse_commit,
    parse_ls_tree,
    scan,
)

_REMOTE_HEAD = "refs/vzgitops/remote-head"
# git writes each signed payload to the verifying program's stdin; `ssh-keygen -Y
# check-novalidate` refuses a malformed signature before reading it, and git (which sets SIGPIPE
# back to the default at start-up, and in 2.39 does not ignore it around this write) then dies
# of SIGPIPE now and then: about 1 run in 20 with two such commits. The answer is the same on
# another try, so a run killed that way is repeated.
_SIGPIPE_ATTEMPTS = 8
_NO_REMOTE_HEAD = "couldn't find remote ref HEAD"
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", f"+HEAD:{_REMOTE_HEAD}")


@dataclass(frozen=True)
class Commit:
    """What a ref points at and the tree at the requested path, before any file is read."""

    sha: str
    ref: str
    path: str
    tree: str
    committed_at: datetime
    subject: str


@dataclass(frozen=True)
class Revision:
    """The desired state at one commit: every YAML blob under the requested path."""

    sha: str
    ref: str
    files: Mapping[str, bytes] = field(hash=False)
    committed_at: datetime
    subject: str
    tree: str = ""


class Source(Protocol):
    """What the controller and the CLI need from a repository, local or mirrored."""

    @property
    def limits(self) -> Limits: ...
    def fetch(self) -> None: ...
    def resolve(self, ref: str | None) -> str: ...
    def locate(self, ref: str | None, subpath: str = "") -> Commit: ...
    def read_at(self, commit: Commit) -> Revision: ...
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


def find_git_dir(path: Path) -> Path:
    """The git directory of a work tree or bare repository at `path` (no parent search)."""
    if not path.exists():
        raise UsageError(f"repository {path} does not exist.")
    res = discover(path) if path.is_dir() else None
    found = Path(res.out.strip()) if res is not None and res.status == 0 else None
    if found is None or not found.is_absolute():
        raise UsageError(f"{path} is not a git repository (give its top directory).")
    return found.resolve()


class _GitHistory:
    """Read operations shared by a local repository and a mirror, given a git directory."""

    _default_ref = "HEAD"

    def __init__(self, git_dir: Path, where: str, limits: Limits) -> None:
        self._git_dir = git_dir
        self._where = where
        self._limits = limits

    @property
    def limits(self) -> Limits:
        return self._limits

    def _ready(self) -> None:
        """Hook: raise if the git directory cannot be read yet."""

    def resolve(self, ref: str | None) -> str:
        """Branch, tag or (short) commit sha -> full commit sha; None = the default branch.

        A branch wins over a tag of the same name (`names.ref_candidates`)."""
        self._ready()
        names = [self._default_ref] if ref is None else ref_candidates(ref)
        res = run_raw(self._git_dir, ["cat-file", "--batch"], [f"{n}^{{commit}}" for n in names])
        try:
            found = parse_batch(res.out, names) if res.status == 0 else []
        except ValueError:
            found = []
        for obj in found:
            if obj is not None and obj.kind == "commit" and SHA_RE.fullmatch(obj.sha):
                return obj.sha
        if res.status != 0:
            raise SourceUnavailable(f"reading {self._where} failed: {git_error(res.err)}")
        if ref is None:
            raise UsageError(self._no_default())
        hint = did_you_mean(ref, self._ref_names())
        raise RefNotFound(f"ref {ref!r} not found in {self._where}.{hint}")

    def _ref_names(self) -> list[str]:
        """The short names of the branches and tags, for suggestions; none if git fails."""
        args = ["for-each-ref", "--format=%(refname:short)", "--", "refs/heads", "refs/tags"]
        res = run(self._git_dir, args)
        return res.out.split() if res.status == 0 else []

    def _no_default(self) -> str:
        return f"HEAD of {self._where} names no commit (an unborn or deleted branch); give --ref."

    def locate(self, ref: str | None, subpath: str = "") -> Commit:
        """The commit `ref` names and the tree at `subpath` in it; no file is read."""
        clean = validate_subpath(subpath)
        sha = self.resolve(ref)
        asked = ref or "HEAD"
        found = self._objects(sha, [sha, f"{sha}:{clean}"] if clean else [sha])
        if found[0] is None or found[0].kind != "commit":
            raise SourceUnavailable(f"reading {self._where} at {sha[:12]} failed: no such commit")
        try:
            facts = parse_commit(found[0].data)
        except ValueError as exc:
            raise SourceUnavailable(f"reading {self._where} at {sha[:12]} failed: {exc}") from exc
        tree = self._subtree(found[1], clean, asked) if clean else facts.tree
        return Commit(sha, asked, clean, tree, facts.committed_at, subject_of(facts.message))

    def _subtree(self, found: GitObject | None, subpath: str, asked: str) -> str:
        if found is None:
            raise UsageError(f"path {subpath!r} not found at ref {asked!r} in {self._where}.")
        if found.kind != "tree":
            msg = f"path {subpath!r} at ref {asked!r} in {self._where} is not a directory."
            raise UsageError(msg)
        return found.sha

    def read_at(self, commit: Commit) -> Revision:
        """The YAML files of `commit`'s tree, straight from the object database."""
        blobs, problems = scan(self._entries(commit), commit.path, self._limits)
        if problems:
            raise SpecError([p.to_problem() for p in problems])
        objects = self._objects(commit.sha, [blob.sha for blob in blobs])
        files: dict[str, bytes] = {}
        for blob, obj in zip(blobs, objects, strict=True):
            if obj is None or obj.kind != "blob":
                msg = f"reading {self._where} at {commit.sha[:12]} failed: {blob.path} is missing"
                raise SourceUnavailable(msg)
            files[blob.path] = obj.data
        return Revision(
            sha=commit.sha,
            ref=commit.ref,
            files=types.MappingProxyType(files),
            committed_at=commit.committed_at,
            subject=commit.subject,
            tree=commit.tree,
        )

    def _entries(self, commit: Commit) -> list[Entry]:
        """Every entry under `commit.tree`, trees included, with repository-relative paths;
        the listing is stopped at the limits on entries, bytes and time (`Limits`)."""
        args = ["ls-tree", "-r", "-t", "-z", "-l", "--end-of-options", validate_sha(commit.tree)]
        lim = self._limits
        res = run_bounded(
            self._git_dir, args, max_records=lim.max_tree_entries,
            max_bytes=lim.max_tree_bytes, timeout=lim.read_timeout,
        )  # fmt: skip
        if res.over == "time":  # a load spike or a stuck disk, not the tree: try again later
            where = f"{self._where} at {commit.sha[:12]}"
            msg = f"the tree of {where} was not listed within {lim.read_timeout:g} s (read_timeout)"
            raise SourceUnavailable(msg)
        if res.over:
            raise SpecError([listing_problem(commit.path, res.over, lim).to_problem()])
        try:
            if res.status != 0:
                raise ValueError(git_error(res.err))
            return parse_ls_tree(res.out, commit.path)
        except ValueError as exc:
            said = f" (git: {git_error(res.err)})" if res.err.strip() and res.status == 0 else ""
            msg = f"reading {self._where} at {commit.sha[:12]} failed: {git_error(str(exc))}{said}"
            raise SourceUnavailable(msg) from exc

    def read(self, ref: str | None, subpath: str = "") -> Revision:
        """The YAML files under `subpath` at `ref`: `locate`, then `read_at`."""
        return self.read_at(self.locate(ref, subpath))

    def _objects(self, sha: str, names: list[str]) -> list[GitObject | None]:
        """`git cat-file --batch` of `names` (shas or `sha:path`, validated by the caller)."""
        try:
            args = ["cat-file", "--batch", "--buffer"]
            res = run_raw(self._git_dir, args, names, timeout=self._limits.read_timeout)
            if res.status != 0:
                raise ValueError(git_error(res.err))
            return parse_batch(res.out, names)
        except (GitError, ValueError, OSError) as exc:
            msg = f"reading {self._where} at {sha[:12]} failed: {git_error(str(exc))}"
            raise SourceUnavailable(msg) from exc

    def is_ancestor(self, old_sha: str, new_sha: str) -> bool:
        """Whether `new_sha` descends from `old_sha` (False after a history rewrite)."""
        old, new = validate_sha(old_sha), self._require_commit(new_sha)
        args = ["merge-base", "--is-ancestor", "--end-of-options", old, new]
        res = run(self._git_dir, args)
        if res.status in (0, 1):
            return res.status == 0
        if self._has_commit(old):
            self._check(res, "merge-base")
        return False  # `old` is unknown here: rewritten away and collected, so not an ancestor

    def commits_between(self, old_sha: str | None, new_sha: str) -> list[str]:
        """Commits reachable from `new_sha` but not `old_sha`, newest first (all if None)."""
        new = self._require_commit(new_sha)
        span = new if old_sha is None else f"{self._require_commit(old_sha)}..{new}"
        res = run(self._git_dir, ["rev-list", "--end-of-options", span])
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
        args = ["log", "--format=%H %G?", *span]
        for _ in range(_SIGPIPE_ATTEMPTS):
            res = run(self._git_dir, args, config=config, env=env)
            if res.status != -signal.SIGPIPE:
                break
        self._check(res, "log")
        pairs = (line.split() for line in res.out.splitlines() if line.strip())
        return [sha for sha, status in pairs if status != "G"]

    def _has_commit(self, sha: str) -> bool:
        spec = f"{validate_sha(sha)}^{{commit}}"
        res = run(self._git_dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", spec])
        return res.status == 0

    def _require_commit(self, sha: str) -> str:
        self._ready()
        if not self._has_commit(sha):
            raise UsageError(f"commit {sha} not found in {self._where}.")
        return sha

    def _check(self, res: Result, verb: str) -> None:
        if res.status != 0:
            msg = f"git {verb} in {self._where} failed: {git_error(res.err)}"
            raise SourceUnavailable(msg)


class LocalSource(_GitHistory):
    """A repository on this machine (work tree or bare), read in place without cloning."""

    def __init__(self, path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> None:
        where = str(path)
        super().__init__(find_git_dir(Path(path)), where, limits)

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
            self._check(run(tmp, ["init", "--quiet", "--bare"], network=True), "init")
            self._fetch_into(tmp)
            tmp.rename(self._git_dir)
        except OSError as exc:
            raise SourceUnavailable(f"cannot create the mirror of {self._where}: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def fetch_args(self, *, head: bool = True) -> list[str]:
        """The git arguments of every fetch: the URL only ever after `--`."""
        opts = ["fetch", "--quiet", "--prune", "--no-tags", "--no-recurse-submodules"]
        specs = _REFSPECS if head else _REFSPECS[:-1]
        return [*opts, "--", self._url, *specs]

    def _fetch_into(self, git_dir: Path) -> None:
        res = run(git_dir, self.fetch_args(), timeout=self._timeout, network=True)
        if res.status != 0 and _NO_REMOTE_HEAD in res.err:
            # The remote's HEAD names a branch it does not have: fetch the branches and tags
            # anyway, and forget the old default so that no stale commit stands in for it.
            res = run(git_dir, self.fetch_args(head=False), timeout=self._timeout, network=True)
            if res.status == 0:
                self._check(run(git_dir, ["update-ref", "-d", _REMOTE_HEAD]), "update-ref")
        if res.timed_out:
            msg = f"git fetch of {self._where} timed out after {self._timeout:g} s"
            raise SourceUnavailable(msg)
        if res.status != 0:
            detail = git_error(res.err).replace(self._url, self._where)
            raise SourceUnavailable(f"git fetch of {self._where} failed: {detail}")

    def _no_default(self) -> str:
        return f"the HEAD of {self._where} names no branch; give --ref."

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
