"""Hostile and odd repositories, real git in tmp_path: a tag named like the branch, a promisor
remote whose upload-pack would run code, a tree-entry bomb, a remote whose HEAD names no branch,
git's real error lines in messages."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reconciler.errors import SourceUnavailable, SpecError, UsageError
from reconciler.source import Limits, LocalSource, Mirror, open_source, read_revision
from tests.conftest import SimNode
from tests.controller.harness import Controllers
from tests.support import GIT_ENV, VZGITOPS, GitRepo, container_doc, vzgitops


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    git_repo = GitRepo(tmp_path / "repo")
    git_repo.write("web.yaml", container_doc("web", 101))
    git_repo.commit("web")
    return git_repo


# ---- refs: a tag named like the branch --------------------------------------------------------


def test_a_tag_named_like_the_branch_is_not_read_instead_of_it(
    repo: GitRepo, tmp_path: Path
) -> None:
    old = repo.git("rev-parse", "HEAD")
    repo.git("tag", "main", old)
    repo.write("db.yaml", container_doc("db", 102))
    new = repo.commit("db")
    assert read_revision(repo.path, "main").sha == new
    assert read_revision(repo.path, "main~1").sha == old
    assert read_revision(repo.path, "refs/tags/main").sha == old
    mirror = open_source(f"file://{repo.path}", tmp_path / "cache")
    mirror.fetch()
    assert mirror.resolve("main") == new
    assert mirror.resolve("refs/tags/main") == old


def test_a_branch_named_like_a_short_sha_is_the_branch(repo: GitRepo) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.write("db.yaml", container_doc("db", 102))
    second = repo.commit("db")
    repo.git("branch", second[:7], first)
    assert read_revision(repo.path, second[:7]).sha == first
    assert read_revision(repo.path, second).sha == second


# ---- a promisor remote whose upload-pack would run code ---------------------------------------


@pytest.fixture
def promisor(repo: GitRepo, tmp_path: Path) -> Path:
    """A bare 'partial clone' whose main holds a blob it lacks; fetching it would run the
    promisor remote's uploadpack, which creates tmp_path/pwned."""
    bare = tmp_path / "promised.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.path), str(bare))
    missing = git(bare, "hash-object", "--stdin", stdin="kind: Missing\n")
    tree = git(bare, "mktree", "--missing", stdin=f"100644 blob {missing}\tweb.yaml\n")
    commit = git(bare, "commit-tree", tree, "-p", "main", "-m", "lazy")
    git(bare, "update-ref", "refs/heads/main", commit)
    (bare / "refs" / "heads" / "gone").write_text("1" * 40 + "\n")
    for key, value in (
        ("core.repositoryformatversion", "1"),
        ("extensions.partialClone", "origin"),
        ("remote.origin.promisor", "true"),
        ("remote.origin.url", str(repo.path)),
        ("remote.origin.uploadpack", f"touch {tmp_path / 'pwned'}; git-upload-pack"),
    ):
        git(bare, "config", key, value)
    return bare


def test_a_promisor_remote_never_runs_when_reading(promisor: Path, tmp_path: Path) -> None:
    source = LocalSource(promisor)
    with pytest.raises(SourceUnavailable, match=r"web\.yaml cannot be read"):
        source.read("main")
    with pytest.raises(UsageError, match="not found"):
        source.resolve("gone")
    with pytest.raises(UsageError, match="not found"):
        source.resolve("1" * 40)
    mirror = Mirror(f"file://{promisor}", tmp_path / "cache")
    with pytest.raises(SourceUnavailable):
        mirror.fetch()
    assert not (tmp_path / "pwned").exists()


def test_a_promisor_remote_never_runs_from_the_command(
    promisor: Path, tmp_path: Path, sim_node: SimNode
) -> None:
    env = {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}
    for command in ("validate", "plan", "apply", "drift"):
        done = vzgitops([command, "--repo", str(promisor), "--ref", "main"], env)
        assert done.returncode == 1, (command, done.stderr)
        assert "web.yaml cannot be read" in done.stderr
    assert not (tmp_path / "pwned").exists()


def test_a_promisor_remote_never_runs_from_the_controller(
    promisor: Path, tmp_path: Path, sim_node: SimNode
) -> None:
    controllers = Controllers(tmp_path, sim_node.env)
    try:
        run = controllers.start(["--repo", str(promisor), "--ref", "main", "--interval", "1h"])
        error = run.wait(lambda s: s.get("last_error"), "the read failure recorded")
        assert "web.yaml cannot be read" in error["message"]
        assert run.stop() == 0
    finally:
        controllers.close()
    assert not (tmp_path / "pwned").exists()


def test_inherited_git_environment_does_not_reach_git(tmp_path: Path) -> None:
    from reconciler.source.gitcmd import git_env

    inherited = {
        "PATH": "/bin",
        "GIT_DIR": "/elsewhere",
        "GIT_CONFIG_PARAMETERS": "'core.fsmonitor'='touch x'",
        "GIT_EXTERNAL_DIFF": "touch x",
        "GIT_SSH": "touch x",
        "GIT_TRACE": "1",
        "GIT_OBJECT_DIRECTORY": "/hook/quarantine",
    }
    env = git_env(inherited=inherited)
    assert {k for k in env if k.startswith("GIT_") and k in inherited} == {"GIT_OBJECT_DIRECTORY"}
    assert (env["GIT_NO_LAZY_FETCH"], env["GIT_ALLOW_PROTOCOL"]) == ("1", "")
    fetching = git_env(inherited=inherited, network=True)
    assert "GIT_OBJECT_DIRECTORY" not in fetching
    assert fetching["GIT_ALLOW_PROTOCOL"] == "https:ssh:file"


def test_inherited_git_variables_do_not_reach_git(repo: GitRepo, tmp_path: Path) -> None:
    marker, trace = tmp_path / "pwned", tmp_path / "trace"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    script.chmod(0o755)
    inherited = {
        "GIT_CONFIG_PARAMETERS": f"'core.fsmonitor={script}' 'core.pager={script}'",
        "GIT_TRACE": str(trace),
        "GIT_NAMESPACE": "elsewhere",
    }
    os.environ.update(inherited)
    try:
        revision = read_revision(repo.path, "main")
    finally:
        for key in inherited:
            del os.environ[key]
    assert revision.sha == repo.git("rev-parse", "main")
    assert not marker.exists() and not trace.exists()


def test_config_included_from_standard_input_does_not_hang_the_command(
    repo: GitRepo, tmp_path: Path
) -> None:
    """GitPython's own config reader followed `include.path=/dev/stdin` and waited on the
    command's standard input forever; git reads it as the (empty or foreign) file it is."""
    repo.git("config", "include.path", "/dev/stdin")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    err_path = tmp_path / "stderr"
    with (
        open(err_path, "wb") as err_file,
        subprocess.Popen(
            [*VZGITOPS, "validate", "--repo", str(repo.path)],
            env=env,
            stdin=subprocess.PIPE,  # held open and never written: a terminal nobody types into
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        ) as proc,
    ):
        try:
            code = proc.wait(timeout=60)
        finally:
            proc.kill()
    err = err_path.read_text()
    assert code == 1, err
    assert "bad config line 1 in file /dev/stdin" in err


# ---- a tree-entry bomb ------------------------------------------------------------------------


def bomb(repo: GitRepo, width: int, depth: int) -> str:
    """A commit whose tree lists width**depth files in depth levels of `width` entries each
    pointing at the same tree below: a few kilobytes of objects."""
    blob = git(repo.path, "hash-object", "-w", "--stdin", stdin="x\n")
    below, mode, kind = blob, "100644", "blob"
    for _ in range(depth):
        listing = "".join(f"{mode} {kind} {below}\te{i:05}\n" for i in range(width))
        below, mode, kind = git(repo.path, "mktree", stdin=listing), "040000", "tree"
    return git(repo.path, "commit-tree", below, "-m", "bomb")


def test_a_tree_entry_bomb_is_refused_naming_the_limit(repo: GitRepo) -> None:
    sha = bomb(repo, 1000, 2)  # a million entries
    with pytest.raises(SpecError, match="more than 100000 entries") as caught:
        read_revision(repo.path, sha)
    assert "max_tree_entries=100000" in str(caught.value) and "--path" in str(caught.value)
    smaller = bomb(repo, 100, 2)  # ten thousand: under the default, over a lower limit
    assert dict(read_revision(repo.path, smaller).files) == {}
    with pytest.raises(SpecError, match="more than 5000 entries"):
        read_revision(repo.path, smaller, limits=Limits(max_tree_entries=5000))


def test_a_tree_listing_over_its_size_or_time_is_refused(repo: GitRepo) -> None:
    sha = bomb(repo, 1000, 3)  # a billion entries
    unbounded = Limits(max_tree_entries=10**12, max_tree_bytes=10**15, read_timeout=0.5)
    with pytest.raises(SourceUnavailable, match=r"not listed within 0\.5 s \(read_timeout\)"):
        read_revision(repo.path, sha, limits=unbounded)
    by_size = Limits(max_tree_entries=10**12, max_tree_bytes=1 << 20)
    with pytest.raises(SpecError, match="over 1048576 bytes"):
        read_revision(repo.path, sha, limits=by_size)


# ---- a remote whose HEAD names no branch ------------------------------------------------------


def test_a_remote_head_naming_no_branch_still_fetches_the_branches(
    repo: GitRepo, tmp_path: Path
) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.path), str(bare))
    mirror = Mirror(f"file://{bare}", tmp_path / "cache")
    mirror.fetch()
    assert mirror.resolve(None) == repo.git("rev-parse", "HEAD")
    git(mirror.path, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/gone")
    git(bare, "symbolic-ref", "HEAD", "refs/heads/gone")
    repo.write("db.yaml", container_doc("db", 102))
    new = repo.commit("db")
    git(repo.path, "push", "-q", str(bare), "main")
    mirror.fetch()
    assert mirror.resolve("main") == new
    with pytest.raises(UsageError, match=r"HEAD of file://.*names no branch; give --ref"):
        mirror.resolve(None)
    with pytest.raises(UsageError, match="ref 'origin' not found"):
        mirror.resolve("origin")
    assert mirror.read("main").files.keys() == {"db.yaml", "web.yaml"}


def test_the_controller_says_the_remote_head_names_no_branch(
    repo: GitRepo, tmp_path: Path, sim_node: SimNode
) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.path), str(bare))
    git(bare, "symbolic-ref", "HEAD", "refs/heads/gone")
    controllers = Controllers(tmp_path, sim_node.env)
    try:
        run = controllers.start(["--repo", bare.as_uri(), "--interval", "1h"])
        error = run.wait(lambda s: s.get("last_error"), "the missing default branch reported")
        assert error["message"].endswith("names no branch; give --ref.")
        assert run.stop() == 0
    finally:
        controllers.close()


def test_a_local_head_naming_no_commit_is_a_clear_error(repo: GitRepo, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.path), str(bare))
    git(bare, "symbolic-ref", "HEAD", "refs/heads/gone")
    with pytest.raises(UsageError, match=r"HEAD of .* names no commit .*; give --ref"):
        read_revision(bare)
    assert read_revision(bare, "main").sha == repo.git("rev-parse", "HEAD")


def test_a_dangling_remote_tracking_head_in_a_clone(repo: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo.path), str(clone))
    git(clone, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/gone")
    assert read_revision(clone).sha == repo.git("rev-parse", "HEAD")
    with pytest.raises(UsageError, match="ref 'origin' not found"):
        read_revision(clone, "origin")


# ---- git's real error ---------------------------------------------------------------------------


def test_git_error_keeps_the_cause_not_only_the_last_line() -> None:
    from reconciler.source.gitcmd import git_error

    text = (
        "fatal: '/srv/x.git' does not appear to be a git repository\n"
        "fatal: Could not read from remote repository.\n\n"
        "Please make sure you have the correct access rights\nand the repository exists.\n"
    )
    assert git_error(text) == (
        "fatal: '/srv/x.git' does not appear to be a git repository; "
        "fatal: Could not read from remote repository."
    )
    assert git_error("hint: try this\nsomething odd\n") == "something odd"
    assert git_error("") == "no output"


def test_a_failed_fetch_names_the_cause(tmp_path: Path) -> None:
    mirror = Mirror(f"file://{tmp_path / 'absent.git'}", tmp_path / "cache")
    with pytest.raises(SourceUnavailable, match="does not appear to be a git repository"):
        mirror.fetch()
