"""The cache of validated desired states: round trips, keys, refusals, and the CLI using it."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from reconciler import revcache
from reconciler.revcache import KEEP, DesiredCache, cache_key, code_fingerprint
from reconciler.source import DEFAULT_LIMITS, Commit, Limits
from reconciler.spec.desired import DesiredState
from reconciler.spec.load import load_desired
from tests.spec.test_roundtrip import QuotingDumper, _document, _revisions
from tests.support import GitRepo, container_doc, vzgitops

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def _commit(tree: str = "1" * 40, path: str = "") -> Commit:
    return Commit("2" * 40, "main", path, tree, WHEN, "subject")


def _example(name: str) -> DesiredState:
    root = EXAMPLES / name
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.yaml"))}
    return load_desired(files)


@pytest.mark.parametrize("name", ["groupware", "webfleet", "defaults"])
def test_an_example_comes_back_from_the_cache_unchanged(name: str, tmp_path: Path) -> None:
    desired = _example(name)
    cache = DesiredCache(tmp_path)
    cache.put(_commit(), DEFAULT_LIMITS, desired)
    assert cache.get(_commit(), DEFAULT_LIMITS) == desired


@settings(max_examples=60, deadline=None)
@given(_revisions())
def test_any_valid_revision_comes_back_from_the_cache_unchanged(specs: list[Any]) -> None:
    text = yaml.dump_all(
        [_document(i, s) for i, s in enumerate(specs)], Dumper=QuotingDumper, explicit_start=True
    )
    desired = load_desired({"fleet.yaml": text.encode()})
    data = desired.model_dump_json(exclude_defaults=True)  # what DesiredCache.put writes
    assert DesiredState.model_validate_json(data) == desired


def test_nothing_is_written_without_a_state_directory(tmp_path: Path) -> None:
    cache = DesiredCache(tmp_path / "missing")
    cache.put(_commit(), DEFAULT_LIMITS, _example("groupware"))
    assert not (tmp_path / "missing").exists()
    assert cache.get(_commit(), DEFAULT_LIMITS) is None


def test_the_key_changes_with_tree_path_limits_and_code() -> None:
    base = cache_key(_commit(), DEFAULT_LIMITS, "code")
    assert base == cache_key(_commit(), DEFAULT_LIMITS, "code")
    assert base != cache_key(_commit(tree="3" * 40), DEFAULT_LIMITS, "code")
    assert base != cache_key(_commit(path="nodes/a"), DEFAULT_LIMITS, "code")
    assert base != cache_key(_commit(), Limits(max_files=10), "code")
    assert base != cache_key(_commit(), DEFAULT_LIMITS, "other code")


def test_the_code_fingerprint_follows_the_validating_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "reconciler"
    shutil.copytree(Path(revcache.__file__).parent, package)
    monkeypatch.setattr(revcache, "_PACKAGE", package)
    revcache.code_fingerprint.cache_clear()
    before = code_fingerprint()
    models = package / "spec" / "models.py"
    models.write_text(models.read_text() + "\n# changed\n")
    revcache.code_fingerprint.cache_clear()
    assert code_fingerprint() != before
    revcache.code_fingerprint.cache_clear()


def test_a_tampered_entry_is_a_miss_not_an_error(tmp_path: Path) -> None:
    cache = DesiredCache(tmp_path)
    cache.put(_commit(), DEFAULT_LIMITS, _example("groupware"))
    [entry] = cache.root.glob("*.json")
    data = json.loads(entry.read_text())
    data["containers"][0]["spec"]["description"] = 'forged "quote'
    entry.write_text(json.dumps(data))
    assert cache.get(_commit(), DEFAULT_LIMITS) is None
    entry.write_text(entry.read_text()[:100])
    assert cache.get(_commit(), DEFAULT_LIMITS) is None


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    cache = DesiredCache(tmp_path)
    desired = _example("groupware")
    commits = [_commit(tree=f"{i:040x}") for i in range(KEEP + 3)]
    for when, commit in enumerate(commits):
        cache.put(commit, DEFAULT_LIMITS, desired)
        written = cache.root / f"{cache_key(commit, DEFAULT_LIMITS, code_fingerprint())}.json"
        os.utime(written, (1e9 + when, 1e9 + when))  # one second apart, oldest first
    assert len(list(cache.root.glob("*.json"))) == KEEP
    assert cache.get(commits[-1], DEFAULT_LIMITS) == desired
    assert cache.get(commits[0], DEFAULT_LIMITS) is None


# --- the CLI: plan and apply read a tree's files only the first time ----------------------------


def _repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 101, hostname="web.lan", state="stopped"))
    repo.commit("web")
    return repo


def _drop_blob(repo: GitRepo, path: str) -> None:
    """Make a file of HEAD unreadable: any run that reads it fails."""
    blob = repo.git("rev-parse", f"HEAD:{path}")
    loose = repo.path / ".git" / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.unlink()


def test_a_tree_that_validated_once_is_not_read_again(sim_node: Any, tmp_path: Path) -> None:
    env = {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}
    repo = _repo(tmp_path)
    assert vzgitops(["apply", "--repo", str(repo.path)], env).returncode == 0  # a first apply
    _drop_blob(repo, "web.yaml")
    again = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert again.returncode == 0, again.stderr
    shutil.rmtree(tmp_path / "state" / "desired")
    cold = vzgitops(["plan", "--repo", str(repo.path)], env)
    assert cold.returncode != 0
    assert "web.yaml" in cold.stderr


def test_an_invalid_revision_is_never_cached(sim_node: Any, tmp_path: Path) -> None:
    env = {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}
    (tmp_path / "state").mkdir()
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 101, hostname="web.lan", colour="blue"))
    repo.commit("typo")
    for _ in range(2):
        done = vzgitops(["plan", "--repo", str(repo.path)], env)
        assert done.returncode == 1
        assert "colour" in done.stderr
    assert not list((tmp_path / "state").glob("desired/*.json"))


def test_plan_without_a_state_directory_creates_none(sim_node: Any, tmp_path: Path) -> None:
    env = {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}
    repo = _repo(tmp_path)
    assert vzgitops(["plan", "--repo", str(repo.path)], env).returncode == 0
    assert not (tmp_path / "state").exists()
