"""Tests for reading trees: git's output parsed (pure) and checked against real repositories."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.errors import SourceUnavailable, SpecError
from reconciler.source import Limits, LocalSource, read_revision
from reconciler.source.tree import (
    Entry,
    parse_batch,
    parse_commit,
    parse_ls_tree,
    scan,
)
from tests.test_source import ENV, commit, git

SHA_A = "a" * 40
SHA_B = "b" * 40


def test_parse_batch_reads_objects_in_order_and_marks_missing_ones() -> None:
    out = f"{SHA_A} blob 3\nabc\n{SHA_B}:x missing\n{SHA_B} blob 0\n\n".encode()
    objects = parse_batch(out, [SHA_A, f"{SHA_B}:x", SHA_B])
    assert [(o.sha, o.kind, o.data) if o else None for o in objects] == [
        (SHA_A, "blob", b"abc"),
        None,
        (SHA_B, "blob", b""),
    ]


@pytest.mark.parametrize(
    "out",
    [f"{SHA_A} blob 5\nabc\n".encode(), f"{SHA_A} blob 3\nabcX".encode(), b"garbage\n"],
)
def test_parse_batch_refuses_truncated_or_garbled_output(out: bytes) -> None:
    with pytest.raises(ValueError):
        parse_batch(out, [SHA_A])


def test_parse_ls_tree_prefixes_paths_and_reads_sizes() -> None:
    out = (
        f"040000 tree {SHA_A}       -\tapps\0"
        f"100644 blob {SHA_B}      12\tapps/web.yaml\0"
        f"160000 commit {SHA_A}       -\tvendor\0"
    ).encode()
    assert parse_ls_tree(out, "sub") == [
        Entry(0o40000, "tree", SHA_A, 0, "sub/apps"),
        Entry(0o100644, "blob", SHA_B, 12, "sub/apps/web.yaml"),
        Entry(0o160000, "commit", SHA_A, 0, "sub/vendor"),
    ]


def test_parse_commit_keeps_the_committer_offset_and_skips_signature_lines() -> None:
    raw = (
        f"tree {SHA_A}\nparent {SHA_B}\n"
        "author A <a@x> 1700000000 +0000\n"
        "committer C <c@x> 1700000000 -0530\n"
        "gpgsig -----BEGIN SSH SIGNATURE-----\n committer X <x> 1 +0100\n \n -----END-----\n"
        "\nSubject line\n\nbody\n"
    ).encode()
    facts = parse_commit(raw)
    assert facts.tree == SHA_A
    assert facts.committed_at.utcoffset() == -timedelta(hours=5, minutes=30)
    assert facts.committed_at.timestamp() == 1700000000
    assert facts.message == b"Subject line\n\nbody\n"


def test_parse_commit_refuses_an_object_without_tree_or_committer() -> None:
    with pytest.raises(ValueError):
        parse_commit(b"author A <a@x> 1 +0000\n\nmsg\n")


def _entry(path: str, kind: str = "blob", mode: int = 0o100644, size: int = 10) -> Entry:
    return Entry(mode, kind, SHA_A, size, path)


def test_scan_stops_at_a_refused_tree_and_reports_it_once() -> None:
    entries = [
        _entry("ok.yaml"),
        _entry("bad\x01dir", "tree", 0o40000, 0),
        _entry("bad\x01dir/inner.yaml"),
        _entry("bad\x01dir/deeper", "tree", 0o40000, 0),
        _entry("bad\x01dir/deeper/x.yaml"),
        _entry("link.yaml", mode=0o120000),
        _entry("notes.md", size=10**9),
        _entry("big.yml", size=2 << 20),
    ]
    blobs, problems = scan(entries, "")
    assert [b.path for b in blobs] == ["ok.yaml"]
    assert [(p.path, p.message.split(";")[0]) for p in problems] == [
        ("bad\x01dir", "unsafe file name in the git tree"),
        ("big.yml", f"is {2 << 20} bytes, over the limit of {1 << 20} bytes"),
        ("link.yaml", "is a symlink"),
    ]


def test_scan_counts_only_yaml_files_against_the_limits() -> None:
    entries = [_entry(f"f{i}.yaml") for i in range(3)] + [_entry("x.json")]
    _, problems = scan(entries, "apps", Limits(max_files=2, max_total_bytes=25))
    assert [p.message for p in problems] == [
        "has 3 YAML files, over the limit of 2",
        "has 30 bytes of YAML, over the limit of 25 bytes",
    ]
    assert {p.path for p in problems} == {"apps"}


# --- against real repositories ---------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    commit(path, {"apps/web.yaml": "a: 1\n", "apps/db/db.yml": "b: 2\n", "top.yaml": "c: 3\n"})
    return path


def test_locate_names_the_tree_at_the_path_and_read_at_reads_it(repo: Path) -> None:
    source = LocalSource(repo)
    located = source.locate("main", "apps")
    assert located.tree == git(repo, "rev-parse", "HEAD:apps")
    assert located.sha == git(repo, "rev-parse", "HEAD")
    revision = source.read_at(located)
    assert dict(revision.files) == {"apps/db/db.yml": b"b: 2\n", "apps/web.yaml": b"a: 1\n"}
    assert revision == source.read("main", "apps")
    assert source.locate(None).tree == git(repo, "rev-parse", "HEAD^{tree}")


def test_committer_time_and_offset_come_from_the_commit(repo: Path) -> None:
    env = {**ENV, "GIT_COMMITTER_DATE": "2024-02-03T04:05:06+0130"}
    (repo / "top.yaml").write_text("c: 4\n")
    subprocess.run(["git", "commit", "-qam", "later\n\nbody"], cwd=repo, env=env, check=True)
    revision = read_revision(repo)
    assert revision.committed_at.isoformat() == "2024-02-03T04:05:06+01:30"
    assert revision.subject == "later"


def test_a_tree_entry_with_an_unsafe_name_is_refused_with_nothing_below_it_read(
    repo: Path,
) -> None:
    blob = git(repo, "rev-parse", "HEAD:top.yaml")
    inner = _mktree(repo, f"100644 blob {blob}\tinner.yaml\n")
    root = _mktree(repo, f"040000 tree {inner}\tbad\x02dir\n100644 blob {blob}\tok.yaml\n")
    sha = git(repo, "commit-tree", root, "-m", "hostile")
    with pytest.raises(SpecError) as caught:
        read_revision(repo, sha)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("bad\x02dir", "unsafe file name in the git tree")
    ]


def test_a_missing_blob_is_source_unavailable(repo: Path) -> None:
    source = LocalSource(repo)
    located = source.locate(None)
    blob = git(repo, "rev-parse", "HEAD:top.yaml")
    obj = repo / ".git" / "objects" / blob[:2] / blob[2:]
    obj.chmod(0o644)
    obj.unlink()
    with pytest.raises(SourceUnavailable, match=r"top\.yaml"):
        source.read_at(located)


def _mktree(repo: Path, listing: str) -> str:
    done = subprocess.run(
        ["git", "mktree", "-z"],
        cwd=repo,
        env=ENV,
        input=listing.replace("\n", "\0").encode(),
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()
