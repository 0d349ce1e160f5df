"""Validated desired states kept by the tree they came from (shell; the CLI's plan/apply/drift).

A revision's `DesiredState` is a function of the tree at `--path`, the limits on reading it
and the code that reads and validates it. A node reconciled every minute reads the same tree
again and again, so once a tree has validated, its desired state is written to
`STATE_DIR/desired/KEY.json`, KEY being a digest of all of those inputs; the next run at the same
tree (any commit with that tree) loads it instead of reading every blob, parsing YAML and
checking the revision again. Invalid revisions are never cached, so they are always reported.

A cached file is still only data: it goes through pydantic validation again on the way in
(every value checked as when it came from YAML), and anything unexpected (a missing, truncated,
foreign or stale file) is a miss, never an error. Writing is best effort: a state directory that
does not exist or cannot be written just means no cache.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from reconciler.atomicwrite import replace_file
from reconciler.source import Commit, Limits, Source
from reconciler.spec.desired import DesiredState

CACHE_FORMAT = 1
KEEP = 8
DIRNAME = "desired"
_PACKAGE = Path(__file__).resolve().parent
# The code a desired state depends on: reading trees, YAML, the models and the revision checks.
_CODE = ("source/tree.py", "spec", "units.py", "revcache.py")
_LIBRARIES = ("yaml", "pydantic", "pydantic_core")


def _code_files() -> list[Path]:
    files: list[Path] = []
    for name in _CODE:
        path = _PACKAGE / name
        files += sorted(path.glob("*.py")) if path.is_dir() else [path]
    return files


def _library_stamp(name: str) -> str:
    """Where a library is installed and when it was written: changes when it is upgraded."""
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec is not None else None
    if not origin:
        return f"{name}:none"
    stat = os.stat(origin)
    return f"{name}:{origin}:{stat.st_mtime_ns}:{stat.st_size}"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of vzgitops's reading and validating code and the libraries it relies on, taken
    once per process: the code that runs is the code that was imported."""
    digest = hashlib.sha256(f"format {CACHE_FORMAT} python {sys.version_info[:2]}\n".encode())
    for path in _code_files():
        digest.update(f"{path.relative_to(_PACKAGE)}\n".encode())
        digest.update(path.read_bytes())
    for name in _LIBRARIES:
        digest.update(f"{_library_stamp(name)}\n".encode())
    return digest.hexdigest()


def cache_key(commit: Commit, limits: Limits, fingerprint: str) -> str:
    """The file name of `commit`'s desired state: the tree, the path, the limits and the code."""
    parts = (fingerprint, commit.tree, commit.path, repr(limits))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class DesiredCache:
    """`STATE_DIR/desired`: at most `KEEP` desired states, the most recently written ones."""

    state_root: Path

    @property
    def root(self) -> Path:
        return self.state_root / DIRNAME

    def get(self, commit: Commit, limits: Limits) -> DesiredState | None:
        try:
            data = self._path(commit, limits).read_bytes()
            return DesiredState.model_validate_json(data)
        except (OSError, ValueError, ValidationError):
            return None

    def put(self, commit: Commit, limits: Limits, desired: DesiredState) -> None:
        if not self.state_root.is_dir():
            return
        try:
            self.root.mkdir(mode=0o700, exist_ok=True)
            path = self._path(commit, limits)
            replace_file(path, desired.model_dump_json(exclude_defaults=True).encode())
            self._trim(keep=path)
        except OSError:
            return

    def _path(self, commit: Commit, limits: Limits) -> Path:
        return self.root / f"{cache_key(commit, limits, code_fingerprint())}.json"

    def _trim(self, keep: Path) -> None:
        """Remove all but the `KEEP` newest entries (`keep`, just written, among them), and temp
        files a crash left behind."""
        entries = sorted(
            ((p.stat().st_mtime, p) for p in self.root.iterdir()), key=lambda e: e[0], reverse=True
        )
        abandoned = time.time() - 3600
        stale = [p for when, p in entries if p.name.startswith(".") and when < abandoned]
        others = [p for _, p in entries if p.suffix == ".json" and p != keep]
        stale += others[KEEP - 1 :]
        for path in stale:
            path.unlink(missing_ok=True)


def desired_at(source: Source, commit: Commit, cache: DesiredCache | None) -> DesiredState:
    """`commit`'s desired state: from `cache` when its tree validated before, else read from git,
    validated (`SpecError` with every problem when it does not) and cached."""
    cached = cache.get(commit, source.limits) if cache is not None else None
    if cached is not None:
        return cached
    from reconciler.spec.load import load_desired  # the YAML reader, only when it is needed

    desired = load_desired(source.read_at(commit).files)
    if cache is not None:
        cache.put(commit, source.limits, desired)
    return desired
