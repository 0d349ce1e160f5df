"""What git prints about commits and trees, parsed and checked (pure; `history` runs git).

`history` asks git for three things: a commit and the tree at the requested path
(`cat-file --batch`), that tree's entries (`ls-tree -r -t -z -l`), and the YAML blobs among
them (`cat-file --batch` again). This module turns those outputs into values and decides which
entries vzgitops refuses to read past: submodules, symlinks, unsafe names and oversized files,
and trees beyond the limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from reconciler.errors import Problem
from reconciler.source.names import CONTROL_RE, SHA_RE

YAML_SUFFIXES = (".yaml", ".yml")
MODE_SYMLINK = 0o120000
MODE_SUBMODULE = 0o160000
_UNSAFE_NAMES = frozenset({"", ".", "..", ".git"})


@dataclass(frozen=True)
class Limits:
    """Bounds on what one revision may contain; exceeding one is a `SpecError`."""

    max_file_bytes: int = 1 << 20
    max_files: int = 5000
    max_total_bytes: int = 64 << 20
    # Checked while the tree is listed, before any file is read: a few kilobytes of trees
    # pointing at each other can name a billion entries.
    max_tree_entries: int = 100_000
    max_tree_bytes: int = 32 << 20
    read_timeout: float = 60.0


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class TreeProblem:
    """An entry of the tree that vzgitops refuses to read past, with the reason."""

    path: str
    message: str

    def to_problem(self) -> Problem:
        return Problem(self.path, 0, 0, "", self.message)


class Entry(NamedTuple):
    """One line of `git ls-tree -l`: mode, type (blob, tree, commit), object, size, path."""

    mode: int
    kind: str
    sha: str
    size: int
    path: str


class GitObject(NamedTuple):
    """One object of `git cat-file --batch` output."""

    name: str
    sha: str
    kind: str
    data: bytes


class CommitFacts(NamedTuple):
    tree: str
    committed_at: datetime
    message: bytes


def _decode(raw: bytes) -> str:
    """File names as GitPython decoded them: UTF-8, undecodable bytes kept as surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def parse_ls_tree(out: bytes, prefix: str) -> list[Entry]:
    """`git ls-tree -r -t -z -l TREE` -> entries whose paths start with `prefix/` (if any)."""
    lead = f"{prefix}/" if prefix else ""
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, tab, path = record.partition(b"\t")
        mode, kind, sha, size = meta.split()
        if not tab or not SHA_RE.fullmatch(sha.decode("ascii", "replace")):
            raise ValueError(f"unexpected git ls-tree output: {record[:80]!r}")
        if not (size.isdigit() or size == b"-"):  # `BAD`: git could not read the object
            raise ValueError(f"{lead + _decode(path)} cannot be read from the object database")
        number = int(size) if size != b"-" else 0
        entries.append(
            Entry(int(mode, 8), kind.decode(), sha.decode(), number, lead + _decode(path))
        )
    return entries


def parse_batch(out: bytes, names: Sequence[str]) -> list[GitObject | None]:
    """`git cat-file --batch` output for `names`, in order; None for an object git cannot give
    (`NAME missing`, `NAME ambiguous`, or an unreadable one)."""
    objects: list[GitObject | None] = []
    at = 0
    for name in names:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if len(header) == 2:
            objects.append(None)
            at = end + 1
            continue
        if len(header) != 3:
            raise ValueError(f"unexpected git cat-file output: {out[at:end][:80]!r}")
        size = int(header[2])
        data = out[end + 1 : end + 1 + size]
        if len(data) != size or out[end + 1 + size : end + 2 + size] != b"\n":
            raise ValueError("git cat-file output ended early")
        objects.append(GitObject(name, header[0].decode(), header[1].decode(), data))
        at = end + 2 + size
    return objects


def parse_commit(raw: bytes) -> CommitFacts:
    """A raw commit object -> its root tree, committer time (with its offset) and message."""
    headers, _, message = raw.partition(b"\n\n")
    fields: dict[bytes, bytes] = {}
    for line in headers.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key and not line.startswith(b" "):  # " ..." continues a multi-line header (gpgsig)
            fields.setdefault(key, value)
    tree = fields.get(b"tree", b"").decode("ascii", "replace")
    committer = fields.get(b"committer", b"").rsplit(b" ", 2)
    if not SHA_RE.fullmatch(tree) or len(committer) != 3 or not committer[1].isdigit():
        raise ValueError("unexpected git commit object: no tree or committer")
    return CommitFacts(tree, _when(int(committer[1]), committer[2].decode("ascii")), message)


def _when(stamp: int, offset: str) -> datetime:
    """Seconds since the epoch and git's `+HHMM` offset -> an aware datetime in that offset."""
    sign = -1 if offset.startswith("-") else 1
    digits = offset.lstrip("+-")
    delta = timedelta(hours=int(digits[:2] or 0), minutes=int(digits[2:4] or 0)) * sign
    return datetime.fromtimestamp(stamp, timezone(delta))


def is_yaml(path: str) -> bool:
    return path.endswith(YAML_SUFFIXES)


def entry_problem(entry: Entry, limits: Limits) -> TreeProblem | None:
    """Why vzgitops refuses this entry, or None."""
    path = entry.path
    if entry.kind == "commit" or entry.mode == MODE_SUBMODULE:
        return TreeProblem(path, "is a git submodule; vzgitops does not follow submodules")
    name = path.rsplit("/", 1)[-1]
    if name in _UNSAFE_NAMES or CONTROL_RE.search(name):
        return TreeProblem(path, "unsafe file name in the git tree")
    if entry.mode == MODE_SYMLINK:
        return TreeProblem(path, "is a symlink; vzgitops reads only regular files from git")
    if entry.kind == "blob" and is_yaml(path) and entry.size > limits.max_file_bytes:
        msg = f"is {entry.size} bytes, over the limit of {limits.max_file_bytes} bytes"
        return TreeProblem(path, msg)
    return None


def _under_refused(path: str, refused: set[str]) -> bool:
    parent = path.rpartition("/")[0]
    while parent:
        if parent in refused:
            return True
        parent = parent.rpartition("/")[0]
    return False


def scan(
    entries: Sequence[Entry], root: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Entry], list[TreeProblem]]:
    """YAML blobs under `root` and every entry that must not be silently skipped.

    Nothing below a refused tree is looked at, as if the walk had stopped there."""
    blobs: list[Entry] = []
    problems: list[TreeProblem] = []
    refused: set[str] = set()
    for entry in entries:
        if _under_refused(entry.path, refused):
            continue
        problem = entry_problem(entry, limits)
        if problem is not None:
            problems.append(problem)
            refused.add(entry.path)
        elif entry.kind == "blob" and is_yaml(entry.path):
            blobs.append(entry)
    problems += total_problems(root, blobs, limits)
    return sorted(blobs, key=lambda e: e.path), sorted(problems, key=lambda p: p.path)


def listing_problem(root: str, over: str, limits: Limits) -> TreeProblem:
    """Why the listing of the tree at `root` was stopped (`over`: "records" or "bytes")."""
    hint = "a built-in limit; point --path at a smaller directory"
    if over == "records":
        n = limits.max_tree_entries
        msg = f"has more than {n} entries, over the limit max_tree_entries={n} ({hint})"
    else:
        n = limits.max_tree_bytes
        msg = f"lists over {n} bytes of entries, the limit max_tree_bytes={n} ({hint})"
    return TreeProblem(root or ".", msg)


def total_problems(root: str, blobs: Sequence[Entry], limits: Limits) -> list[TreeProblem]:
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
