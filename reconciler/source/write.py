"""Writing to git (shell): changed files as one commit on a NEW branch, through plumbing only.

Used by `drift --adopt`. hash-object, read-tree into a temporary index, update-index,
write-tree, commit-tree, then update-ref with an all-zero old value, so an existing branch is
never moved: the work tree, the index, HEAD and the current branch are not touched, no hook
runs, and nothing is pushed. Every git process is hardened like the readers' (`gitcmd.run`).
The commit is authored by the repository's own user.name/user.email when its config sets them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.errors import BranchTaken, GitWriteError
from reconciler.source.gitcmd import git_error, run
from reconciler.source.names import SHA_RE

_ZERO = "0" * 40
_IDENTITY = ("user.name=vzgitops", "user.email=vzgitops@localhost")


def _git(git_dir: Path, args: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    res = run(git_dir, args, config=_IDENTITY, env=env)
    if res.status != 0:
        raise GitWriteError(f"git {args[0]} failed (exit {res.status}): {git_error(res.err)}")
    return res.out.strip()


def _hash(git_dir: Path, data: bytes, scratch: Path) -> str:
    path = scratch / "blob"
    path.write_bytes(data)
    return _git(git_dir, ["hash-object", "-w", "--no-filters", "--", str(path)])


def _mode(git_dir: Path, sha: str, path: str) -> str:
    listed = _git(git_dir, ["ls-tree", "--end-of-options", sha, "--", path])
    return listed.split()[0] if listed else "100644"


def _check_free(git_dir: Path, branch: str) -> None:
    """Raise before anything is written if `branch` is a branch already, or a tag (a branch
    beside a tag of the same name makes `--ref NAME` mean two commits)."""
    wanted = (f"refs/heads/{branch}", f"refs/tags/{branch}")
    listed = _git(git_dir, ["for-each-ref", "--format=%(refname)", "--", *wanted]).splitlines()
    if wanted[0] in listed:
        raise BranchTaken(f"branch {branch} already exists")
    if wanted[1] in listed:
        raise BranchTaken(f"a tag named {branch} exists, so --ref {branch} would be ambiguous")


def _config_value(git_dir: Path, key: str) -> str | None:
    """`key` from the repository's own config (the global and system files are never read)."""
    res = run(git_dir, ["config", "--get", key])
    value = res.out.strip() if res.status == 0 else ""
    return value or None


def identity_env(git_dir: Path) -> dict[str, str]:
    """The repository's user.name/user.email as author and committer, through the environment
    (never as options); missing ones stay vzgitops's own (`_IDENTITY`)."""
    env: dict[str, str] = {}
    for key, role in (("user.name", "NAME"), ("user.email", "EMAIL")):
        value = _config_value(git_dir, key)
        if value is not None:
            env[f"GIT_AUTHOR_{role}"] = env[f"GIT_COMMITTER_{role}"] = value
    return env


def commit_on_new_branch(
    git_dir: Path, parent: str, files: Mapping[str, bytes], message: str, branch: str
) -> str:
    """A commit with `files` replaced on top of `parent`, as a new branch; its sha."""
    if not SHA_RE.fullmatch(parent):
        raise GitWriteError(f"{parent!r} is not a commit sha")
    _check_free(git_dir, branch)
    with tempfile.TemporaryDirectory(prefix="vzgitops-adopt-") as tmp:
        scratch = Path(tmp)
        env = {"GIT_INDEX_FILE": str(scratch / "index")}
        _git(git_dir, ["read-tree", "--end-of-options", parent], env)
        for path, data in sorted(files.items()):
            entry = f"{_mode(git_dir, parent, path)},{_hash(git_dir, data, scratch)},{path}"
            _git(git_dir, ["update-index", "--add", "--cacheinfo", entry], env)
        tree = _git(git_dir, ["write-tree"], env)
        (scratch / "message").write_text(message, encoding="utf-8")
        message_file = str(scratch / "message")
        argv = ["commit-tree", tree, "-p", parent, "-F", message_file]
        commit = _git(git_dir, argv, identity_env(git_dir))
    _git(
        git_dir,
        ["update-ref", "-m", "vzgitops drift --adopt", f"refs/heads/{branch}", commit, _ZERO],
    )
    return commit
