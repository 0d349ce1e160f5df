"""`drift --adopt`: minimal YAML edits that keep comments, and a commit on a new branch whose
plan against the node is empty (real git repository; the node is a synthesised ObservedState)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.adopt_drift import adopt, flow, set_spec_value
from reconciler.drift import compute_drift
from reconciler.errors import AdoptError, UsageError
from reconciler.offline import inventory_of
from reconciler.plan import Policy, plan
from reconciler.plan.observed import ObservedContainer, ObservedState
from reconciler.source import read_revision
from reconciler.spec.load import load_desired
from tests.report.cases import on_node
from tests.support import GitRepo

WEB = """\
# yaml-language-server: $schema=../schemas/container.schema.json
# The web server.
apiVersion: vzgitops/v1
kind: Container
metadata:
  name: web   # public name
spec:
  ctid: 101
  ostemplate: debian-12.0-x86_64-minimal
  ram: 1G     # enough for now
  ip:
    - 10.0.0.1/24   # front
    - 10.0.0.2/24
  features: {nfs: on}
  state: running
---
apiVersion: vzgitops/v1
kind: Container
metadata:
  name: api
spec:
  ctid: 102
  ostemplate: debian-12.0-x86_64-minimal
  cpus: 1
  state: stopped
"""


def spec_of(text: str, name: str) -> dict[str, Any]:
    for doc in yaml.safe_load_all(text):
        if doc["metadata"]["name"] == name:
            return dict(doc["spec"])
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        ("ram", "2G", "  ram: 2G     # enough for now"),
        ("state", "stopped", "  state: stopped"),
        ("features", {"nfs": True, "sit": False}, "  features: {nfs: true, sit: false}"),
        ("ip", ["10.0.0.1/24"], "  ip: [10.0.0.1/24]"),
        ("cpus", 4, "  cpus: 4"),
        ("onboot", False, "  onboot: false"),
    ],
)
def test_set_spec_value_changes_one_line_and_keeps_comments(
    key: str, value: Any, line: str
) -> None:
    text = set_spec_value(WEB, "web", key, value)
    assert line in text.splitlines()
    assert spec_of(text, "web")[key] == value
    assert spec_of(text, "api") == spec_of(WEB, "api")
    for comment in ("# The web server.", "# public name"):
        assert comment in text
    old = [x for x in WEB.splitlines() if x not in text.splitlines()]
    assert len(old) <= (3 if key == "ip" else 1)


def test_second_document_is_edited_in_place() -> None:
    text = set_spec_value(WEB, "api", "cpus", 2)
    assert text == WEB.replace("  cpus: 1\n", "  cpus: 2\n")


def test_a_file_with_a_byte_order_mark_keeps_it() -> None:
    text = set_spec_value("\ufeff" + WEB, "web", "ram", "2G")
    assert text == "\ufeff" + WEB.replace("  ram: 1G ", "  ram: 2G ")


def test_a_block_mapping_value_becomes_one_line_and_the_next_key_stays() -> None:
    text = WEB.replace("  features: {nfs: on}\n", "  features:\n    nfs: on   # c\n\n")
    edited = set_spec_value(text, "web", "features", {"nfs": False})
    assert "  features: {nfs: false}\n\n  state: running\n" in edited


def test_a_flow_spec_is_left_to_a_human() -> None:
    text = "apiVersion: vzgitops/v1\nkind: Container\nmetadata: {name: web}\nspec: {ctid: 101}\n"
    with pytest.raises(AdoptError, match="flow style"):
        set_spec_value(text, "web", "ram", "1G")


def test_unknown_container_is_an_error() -> None:
    with pytest.raises(AdoptError):
        set_spec_value(WEB, "nope", "ram", "1G")


@pytest.mark.parametrize("value", ["no", "on", "0101", "1e3", "a: b", "# x", "", "null"])
def test_flow_strings_read_back_as_strings(value: str) -> None:
    assert yaml.safe_load(flow(value)) == value
    assert "\n" not in flow(value)


# ---- adopt into a real repository ----------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    git = GitRepo(tmp_path / "repo")
    git.write("web.yaml", WEB.replace("{nfs: on}", "{nfs: true}"))
    git.commit("web and api")
    return git


def node_after_hand_edits(revision_files: dict[str, bytes]) -> ObservedState:
    """web: ram changed with --save and stopped by hand; api: cpus edited in its config."""
    desired = load_desired(revision_files)
    web, api = desired.containers
    return ObservedState(
        {
            101: on_node(web, status="stopped", ram=524288),
            102: on_node(api, status="stopped", cpus=3),
        }
    )


def test_adopt_commits_on_a_new_branch_and_the_branch_plans_empty(repo: GitRepo) -> None:
    head_before = repo.git("rev-parse", "HEAD")
    status_before = repo.git("status", "--porcelain")
    revision = read_revision(repo.path)
    desired = load_desired(revision.files)
    observed = node_after_hand_edits(dict(revision.files))
    drift = compute_drift(desired.containers, observed, revision=revision.sha)
    assert not drift.clean

    result = adopt(repo.path, revision, desired, drift, observed, "adopt/test")

    assert result.branch == "adopt/test" and result.files == ("web.yaml",)
    assert repo.git("rev-parse", "HEAD") == head_before  # current branch untouched
    assert repo.git("status", "--porcelain") == status_before  # work tree untouched
    assert repo.git("rev-parse", "adopt/test^") == revision.sha
    adopted = read_revision(repo.path, "adopt/test")
    text = adopted.files["web.yaml"].decode()
    assert "  ram: 2G     # enough for now" in text and "  state: stopped" in text
    assert "  cpus: 3" in text and "# The web server." in text
    new = load_desired(adopted.files)
    assert compute_drift(new.containers, observed).clean
    planned = plan(new.containers, observed, inventory_of(new.containers), Policy())
    assert planned.empty, planned.changes


def test_adopt_never_moves_an_existing_branch(repo: GitRepo) -> None:
    repo.git("branch", "taken")
    revision = read_revision(repo.path)
    desired = load_desired(revision.files)
    observed = node_after_hand_edits(dict(revision.files))
    drift = compute_drift(desired.containers, observed, revision=revision.sha)
    with pytest.raises(AdoptError, match="branch taken already exists; nothing was written"):
        adopt(repo.path, revision, desired, drift, observed, "taken")
    assert repo.git("rev-parse", "taken") == revision.sha


def test_running_only_drift_adopts_the_running_value_with_a_note(repo: GitRepo) -> None:
    revision = read_revision(repo.path)
    desired = load_desired(revision.files)
    web, api = desired.containers
    observed = ObservedState(
        {101: on_node(web, running={"ram": 131072}), 102: on_node(api, status="stopped")}
    )
    drift = compute_drift(desired.containers, observed, revision=revision.sha)
    result = adopt(repo.path, revision, desired, drift, observed, None)
    assert result.branch == f"vzgitops/adopt-drift-{revision.sha[:12]}"
    assert any("next apply saves it" in m for m in result.messages)
    assert "  ram: 512M" in read_revision(repo.path, result.branch).files["web.yaml"].decode()


@pytest.mark.parametrize("branch", ["-x", "a..b", "main.lock", "../up", "a b"])
def test_bad_branch_names_are_refused(repo: GitRepo, branch: str) -> None:
    revision = read_revision(repo.path)
    desired = load_desired(revision.files)
    observed = node_after_hand_edits(dict(revision.files))
    drift = compute_drift(desired.containers, observed, revision=revision.sha)
    with pytest.raises(UsageError):
        adopt(repo.path, revision, desired, drift, observed, branch)


def test_nothing_to_adopt(repo: GitRepo) -> None:
    revision = read_revision(repo.path)
    desired = load_desired(revision.files)
    stray = ObservedContainer(ctid=900, status="running", saved={})
    observed = ObservedState({900: stray})
    drift = compute_drift(desired.containers, observed, revision=revision.sha)
    with pytest.raises(AdoptError, match="nothing was committed"):
        adopt(repo.path, revision, desired, drift, observed, None)


def _adopt_into(repo: GitRepo, branch: str) -> None:
    revision = read_revision(repo.path)
    desired = load_desired(revision.files)
    observed = node_after_hand_edits(dict(revision.files))
    drift = compute_drift(desired.containers, observed, revision=revision.sha)
    adopt(repo.path, revision, desired, drift, observed, branch)


def test_adopt_commits_as_the_repositorys_git_identity(repo: GitRepo) -> None:
    repo.git("config", "user.name", "Ann Operator")
    repo.git("config", "user.email", "ann@example.org")
    _adopt_into(repo, "adopt/mine")
    shown = repo.git("log", "-1", "--format=%an <%ae>|%cn <%ce>", "adopt/mine")
    assert shown == "Ann Operator <ann@example.org>|Ann Operator <ann@example.org>"


def test_a_repository_identity_that_looks_like_an_option_is_only_a_name(repo: GitRepo) -> None:
    repo.git("config", "user.name", "--upload-pack=touch pwned")
    repo.git("config", "user.email", "-c@x")
    _adopt_into(repo, "adopt/odd")
    shown = repo.git("log", "-1", "--format=%an <%ae>", "adopt/odd")
    assert shown == "--upload-pack=touch pwned <-c@x>"
    assert not (repo.path / "pwned").exists()


def test_adopt_without_a_repository_identity_commits_as_vzgitops(repo: GitRepo) -> None:
    assert "user.name" not in repo.git("config", "--local", "--list")
    _adopt_into(repo, "adopt/plain")
    shown = repo.git("log", "-1", "--format=%an <%ae>", "adopt/plain")
    assert shown == "vzgitops <vzgitops@localhost>"
