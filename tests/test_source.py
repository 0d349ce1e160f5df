"""Tests for reconciler.source against real git repositories made in tmp_path (no git mocks)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconciler.errors import SourceUnavailable, SpecError, UsageError
from reconciler.source import (
    GIT_ENV,
    Limits,
    Mirror,
    open_source,
    read_revision,
    redact,
    subject_of,
    validate_ref,
    validate_revision,
    validate_subpath,
    validate_url,
)

ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
HOSTILE = "--upload-pack=touch {marker}"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
        cwd=cwd,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str | bytes], message: str = "change") -> str:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    commit(
        path,
        {
            "top.yaml": "a: 1\n",
            "apps/web.yml": "b: 2\n",
            "apps/db/db.yaml": "c: 3\n",
            "apps/README.md": "not yaml\n",
            "apps/data.json": "{}\n",
            "other/x.yaml": "d: 4\n",
        },
        "Initial desired state\n\nbody line with details",
    )
    return path


# --- pure validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["main", "v1.0", "release/2024-01", "feature+x", "a@b", "0a1b2c3"])
def test_validate_ref_accepts_plain_names(ref: str) -> None:
    assert validate_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "--upload-pack=touch /tmp/pwned",
        "-c",
        "",
        "a..b",
        "a b",
        "HEAD~1",
        "HEAD^",
        "main:file",
        "HEAD@{1}",
        "x\n",
        "x\x00",
        ".hidden",
        "a/.b",
        "a//b",
        "a/",
        "a.lock",
        "a*",
        "a\\b",
        "a" * 300,
    ],
)
def test_validate_ref_rejects_option_like_and_malformed(ref: str) -> None:
    with pytest.raises(UsageError):
        validate_ref(ref)


@pytest.mark.parametrize("spec", ["HEAD~1", "main^", "v1.0~3^2", "release/2024-01~12", "a~~"])
def test_a_revision_may_step_back_from_a_ref(spec: str) -> None:
    assert validate_revision(spec) == spec


@pytest.mark.parametrize(
    "spec",
    ["~1", "-c~1", "HEAD~-1", "HEAD^{tree}", "HEAD@{1}~1", "a..b~1", "main~1:file", "HEAD~1 x",
     "HEAD" + "~" * 17, "HEAD~12345"],
)  # fmt: skip
def test_a_revision_is_still_refused_when_its_ref_is(spec: str) -> None:
    with pytest.raises(UsageError):
        validate_revision(spec)


@pytest.mark.parametrize(
    ("subpath", "clean"), [("", ""), (".", ""), ("apps", "apps"), ("./apps/db/", "apps/db")]
)
def test_validate_subpath_normalises(subpath: str, clean: str) -> None:
    assert validate_subpath(subpath) == clean


@pytest.mark.parametrize("subpath", ["../x", "/etc", "-x", "a/../../b", "a\\b", "a\nb"])
def test_validate_subpath_rejects_escapes(subpath: str) -> None:
    with pytest.raises(UsageError):
        validate_subpath(subpath)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/org/repo.git",
        "ssh://git@example.com:2222/org/repo.git",
        "git@example.com:org/repo.git",
        "file:///srv/git/repo.git",
    ],
)
def test_validate_url_accepts_supported_transports(url: str) -> None:
    assert validate_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch /tmp/pwned",
        "ext::sh -c touch% /tmp/pwned",
        "ext::sh",
        "http://example.com/repo.git",
        "git://example.com/repo.git",
        "ssh://-oProxyCommand=touch/repo",
        "ssh://-oProxyCommand=touch@host/repo",
        "https://example.com/a repo",
        "https://[broken/x",
        "",
    ],
)
def test_validate_url_rejects_unsafe(url: str) -> None:
    with pytest.raises(UsageError):
        validate_url(url)


def test_redact_hides_credentials() -> None:
    assert redact("https://user:tok3n@example.com/r.git") == "https://***@example.com/r.git"
    assert redact("git@example.com:org/r.git") == "git@example.com:org/r.git"


def test_subject_is_first_line_without_control_characters_and_trimmed() -> None:
    assert subject_of("fix \x1b[31mred\n\nbody") == "fix [31mred"
    assert len(subject_of("x" * 500)) == 200
    assert subject_of(b"bytes \xff subject\n") == "bytes \ufffd subject"


# --- reading revisions ---------------------------------------------------------------------------


def test_reads_head_collecting_yaml_and_yml_in_nested_dirs(repo: Path) -> None:
    rev = read_revision(repo)
    assert rev.sha == git(repo, "rev-parse", "HEAD")
    assert rev.ref == "HEAD"
    assert dict(rev.files) == {
        "apps/db/db.yaml": b"c: 3\n",
        "apps/web.yml": b"b: 2\n",
        "other/x.yaml": b"d: 4\n",
        "top.yaml": b"a: 1\n",
    }
    assert rev.subject == "Initial desired state"
    assert rev.committed_at.tzinfo is not None


def test_revision_is_immutable(repo: Path) -> None:
    rev = read_revision(repo)
    with pytest.raises(AttributeError):
        rev.sha = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        rev.files["new.yaml"] = b""  # type: ignore[index]
    assert isinstance(hash(rev), int)


@pytest.mark.parametrize("kind", ["branch", "tag", "annotated-tag", "sha", "short-sha"])
def test_reads_at_branch_tag_and_sha(repo: Path, kind: str) -> None:
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "branch", "stable")
    git(repo, "tag", "v1")
    git(repo, "tag", "-a", "-m", "annotated", "v1a")
    commit(repo, {"top.yaml": "a: 2\n"})
    ref = {"branch": "stable", "tag": "v1", "annotated-tag": "v1a", "sha": first}.get(kind)
    rev = read_revision(repo, ref or first[:10])
    assert rev.sha == first
    assert rev.ref == (ref or first[:10])
    assert rev.files["top.yaml"] == b"a: 1\n"


@pytest.mark.parametrize("spec", ["HEAD~1", "HEAD^", "main~1", "main^1"])
def test_reads_a_parent_named_by_ancestry(repo: Path, spec: str) -> None:
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, {"top.yaml": "a: 2\n"})
    rev = read_revision(repo, spec)
    assert (rev.sha, rev.ref, rev.files["top.yaml"]) == (first, spec, b"a: 1\n")


def test_reads_only_under_subpath_with_repo_relative_keys(repo: Path) -> None:
    rev = read_revision(repo, None, "./apps/")
    assert sorted(rev.files) == ["apps/db/db.yaml", "apps/web.yml"]


@pytest.mark.parametrize("subpath", ["missing", "top.yaml"])
def test_missing_or_non_directory_subpath_is_usage_error(repo: Path, subpath: str) -> None:
    with pytest.raises(UsageError, match=subpath):
        read_revision(repo, None, subpath)


def test_missing_ref_is_usage_error_naming_it(repo: Path) -> None:
    with pytest.raises(UsageError, match="'no-such-branch' not found"):
        read_revision(repo, "no-such-branch")


def test_not_a_repository_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a git repository"):
        read_revision(tmp_path)
    with pytest.raises(UsageError, match="remote"):
        read_revision("https://example.com/r.git")


def test_symlinks_are_rejected_with_their_paths(repo: Path) -> None:
    (repo / "apps" / "link.yaml").symlink_to("web.yml")
    (repo / "apps" / "dirlink").symlink_to("db")
    commit(repo, {})
    with pytest.raises(SpecError) as caught:
        read_revision(repo)
    assert [p.path for p in caught.value.problems] == ["apps/dirlink", "apps/link.yaml"]
    assert "symlink" in str(caught.value)


def test_submodules_are_rejected_with_their_path(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},apps/vendor")
    git(repo, "commit", "-q", "-m", "add gitlink")
    with pytest.raises(SpecError) as caught:
        read_revision(repo)
    assert [p.path for p in caught.value.problems] == ["apps/vendor"]
    assert "submodule" in str(caught.value)


def test_oversized_yaml_is_rejected_and_large_other_files_ignored(repo: Path) -> None:
    commit(repo, {"apps/big.yaml": "x" * 100, "apps/big.bin": b"\0" * 5000})
    with pytest.raises(SpecError) as caught:
        read_revision(repo, limits=Limits(max_file_bytes=50))
    assert [p.path for p in caught.value.problems] == ["apps/big.yaml"]
    assert "100 bytes" in str(caught.value)


def test_too_many_files_and_too_many_bytes_are_rejected(repo: Path) -> None:
    with pytest.raises(SpecError, match="4 YAML files, over the limit of 3"):
        read_revision(repo, limits=Limits(max_files=3))
    with pytest.raises(SpecError, match="apps: has 10 bytes of YAML"):
        read_revision(repo, None, "apps", limits=Limits(max_total_bytes=9))


def test_hostile_ref_is_rejected_and_runs_nothing(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = HOSTILE.format(marker=marker)
    mirror = open_source(f"file://{repo}", tmp_path / "cache")
    mirror.fetch()
    for attempt in (
        lambda: read_revision(repo, hostile),
        lambda: read_revision(repo, None, hostile),
        lambda: mirror.resolve(hostile),
        lambda: mirror.read(hostile),
        lambda: mirror.commits_between(hostile, hostile),
        lambda: open_source(hostile, tmp_path / "cache").fetch(),
        lambda: Mirror(f"ext::sh -c touch% {marker}", tmp_path / "cache").fetch(),
    ):
        with pytest.raises(UsageError):
            attempt()
    assert not marker.exists()


def test_repository_config_cannot_run_code(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    forged = [forged_signed_commit(repo, kind) for kind in ("PGP", "SSH")]
    marker = tmp_path / "pwned"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    script.chmod(0o755)
    for key in ("core.fsmonitor", "core.pager", "gpg.program", "gpg.ssh.program", "core.editor"):
        git(repo, "config", key, str(script))
    hooks = repo / ".git" / "hooks"
    for hook in ("post-checkout", "reference-transaction", "pre-auto-gc"):
        shutil.copy(script, hooks / hook)
    git(repo, "config", "core.hooksPath", str(hooks))
    source = open_source(str(repo), tmp_path / "cache")
    head = source.resolve(None)
    source.read(None, "apps")
    source.commits_between(None, head)
    unsigned = source.verify_signatures(base, head, allowed_signers=None, gpg_home=tmp_path)
    assert unsigned == forged[::-1]
    mirror = open_source(f"file://{repo}", tmp_path / "cache")
    mirror.fetch()
    mirror.fetch()
    assert not marker.exists()


def test_verifying_bogus_signatures_gives_the_same_answer_every_time(
    repo: Path, tmp_path: Path
) -> None:
    """git dies of SIGPIPE now and then when the verifier refuses a malformed signature before
    reading the payload (about 1 call in 20 before such runs were repeated)."""
    base = git(repo, "rev-parse", "HEAD")
    forged = [forged_signed_commit(repo, kind) for kind in ("PGP", "SSH")]
    source = open_source(str(repo), tmp_path / "cache")
    head = source.resolve(None)
    for _ in range(60):
        unsigned = source.verify_signatures(base, head, allowed_signers=None, gpg_home=tmp_path)
        assert unsigned == forged[::-1]


def forged_signed_commit(repo: Path, kind: str) -> str:
    """A commit carrying a bogus signature block, so verifying it runs the signing program."""
    tree, parent = git(repo, "rev-parse", "HEAD^{tree}"), git(repo, "rev-parse", "HEAD")
    who = "Test <test@example.com> 1700000000 +0000"
    body = (
        f"tree {tree}\nparent {parent}\nauthor {who}\ncommitter {who}\n"
        f"gpgsig -----BEGIN {kind} SIGNATURE-----\n AAAA\n -----END {kind} SIGNATURE-----\n"
        f"\nforged {kind}\n"
    )
    done = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=repo,
        env=ENV,
        input=body,
        check=True,
        capture_output=True,
        text=True,
    )
    sha = done.stdout.strip()
    git(repo, "update-ref", "HEAD", sha)
    return sha


def test_reads_a_bare_repository(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    rev = read_revision(bare, "main", "other")
    assert dict(rev.files) == {"other/x.yaml": b"d: 4\n"}
    assert read_revision(bare).sha == rev.sha


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository another owner")
def test_reads_a_repository_owned_by_another_user(repo: Path) -> None:
    for path in [repo, *repo.rglob("*")]:
        os.lchown(path, 65534, 65534)
    assert read_revision(repo).files["top.yaml"] == b"a: 1\n"


# --- mirrors -------------------------------------------------------------------------------------


def test_file_url_is_mirrored_and_fetch_sees_new_commits(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mirror = open_source(f"file://{repo}", cache)
    assert isinstance(mirror, Mirror)
    with pytest.raises(SourceUnavailable, match="not been fetched"):
        mirror.resolve(None)
    mirror.fetch()
    assert mirror.path.parent == cache
    first = mirror.resolve(None)
    assert first == git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "v1")
    second = commit(repo, {"apps/new.yaml": "e: 5\n"}, "add new")
    assert mirror.resolve(None) == first
    mirror.fetch()
    assert mirror.resolve(None) == second
    assert mirror.resolve("v1") == first
    rev = mirror.read("main", "apps")
    assert (rev.sha, rev.subject, rev.files["apps/new.yaml"]) == (second, "add new", b"e: 5\n")
    assert read_revision(f"file://{repo}").sha == second


def test_ancestry_and_commits_between_across_a_force_push(repo: Path, tmp_path: Path) -> None:
    mirror = open_source(f"file://{repo}", tmp_path / "cache")
    base = git(repo, "rev-parse", "HEAD")
    old = commit(repo, {"top.yaml": "a: 2\n"})
    mirror.fetch()
    assert mirror.is_ancestor(base, old)
    assert mirror.commits_between(base, old) == [old]
    assert mirror.commits_between(old, old) == []
    git(repo, "reset", "-q", "--hard", base)
    mid = commit(repo, {"top.yaml": "a: 3\n"}, "rewritten")
    new = commit(repo, {"top.yaml": "a: 4\n"}, "rewritten again")
    mirror.fetch()
    assert mirror.resolve("main") == new
    assert not mirror.is_ancestor(old, new)
    assert mirror.is_ancestor(base, new)
    assert not mirror.is_ancestor("0" * 40, new)
    assert mirror.commits_between(base, new) == [new, mid]
    assert mirror.commits_between(None, new) == [new, mid, base]
    with pytest.raises(UsageError, match="not found"):
        mirror.commits_between(base, "f" * 40)
    with pytest.raises(UsageError, match="40-character"):
        mirror.is_ancestor("HEAD", new)


def test_fetch_times_out_and_kills_git(tmp_path: Path) -> None:
    with silent_server() as port:
        mirror = Mirror(f"https://127.0.0.1:{port}/r.git", tmp_path / "cache", timeout=1.0)
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="timed out after 1 s"):
            mirror.fetch()
        assert time.monotonic() - started < 15
        assert processes_mentioning(f"127.0.0.1:{port}") == []
    assert git_children() == []
    assert list((tmp_path / "cache").iterdir()) == []


def test_fetch_failure_is_source_unavailable_without_secrets(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"https://user:s3cret@127.0.0.1:{port}/r.git"
    with pytest.raises(SourceUnavailable) as caught:
        Mirror(url, tmp_path / "cache", timeout=10).fetch()
    assert "s3cret" not in str(caught.value)
    assert "***@127.0.0.1" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["ssh://git@example.com/org/repo.git", "git@example.com:org/repo.git"]
)
def test_ssh_fetch_argv_is_batch_mode_with_url_after_double_dash(url: str, tmp_path: Path) -> None:
    mirror = Mirror(url, tmp_path)
    args = mirror.fetch_args()
    assert args[0] == "fetch"
    assert args[args.index("--") + 1] == url
    assert "BatchMode=yes" in GIT_ENV["GIT_SSH_COMMAND"]
    assert GIT_ENV["GIT_TERMINAL_PROMPT"] == "0"


def test_https_fetch_argv_is_hardened(tmp_path: Path) -> None:
    from reconciler.source import git_argv

    url = "https://example.com/org/repo.git"
    mirror = Mirror(url, tmp_path)
    argv = git_argv(mirror.path, mirror.fetch_args())
    settings = {argv[i + 1] for i, arg in enumerate(argv) if arg == "-c"}
    for setting in (
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "protocol.ext.allow=never",
        "credential.helper=",
        "submodule.recurse=false",
    ):
        assert setting in settings
    assert argv.index("--") < argv.index(url)
    assert all(not a.startswith("--upload-pack") for a in argv)
    assert (GIT_ENV["GIT_CONFIG_NOSYSTEM"], GIT_ENV["GIT_CONFIG_GLOBAL"]) == ("1", os.devnull)


# --- signatures ----------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_verify_signatures_with_ssh_allowed_signers(repo: Path, tmp_path: Path) -> None:
    trusted, stranger = ssh_key(tmp_path, "trusted"), ssh_key(tmp_path, "stranger")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"test@example.com {trusted.with_suffix('.pub').read_text()}")
    git(repo, "config", "gpg.format", "ssh")
    base = git(repo, "rev-parse", "HEAD")
    good = signed_commit(repo, trusted, "good")
    unsigned = commit(repo, {"top.yaml": "a: 9\n"}, "unsigned")
    foreign = signed_commit(repo, stranger, "foreign")
    tip = signed_commit(repo, trusted, "tip")
    source = open_source(str(repo), tmp_path / "cache")
    check = source.verify_signatures
    assert check(base, tip, allowed_signers=allowed, gpg_home=None) == [foreign, unsigned]
    assert check(None, tip, allowed_signers=allowed, gpg_home=None) == []
    assert check(base, good, allowed_signers=allowed, gpg_home=None) == []
    assert check(None, good, allowed_signers=None, gpg_home=None) == [good]


def ssh_key(tmp_path: Path, name: str) -> Path:
    key = tmp_path / name
    run = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)]
    subprocess.run(run, check=True, capture_output=True)
    return key


def signed_commit(repo: Path, key: Path, message: str) -> str:
    git(repo, "-c", f"user.signingkey={key}", "commit", "-q", "-S", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


# --- resources -----------------------------------------------------------------------------------


def test_reading_300_revisions_leaks_no_file_descriptors_or_processes(repo: Path) -> None:
    read_revision(repo, "main", "apps")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(300):
        read_revision(repo, "main", "apps")
    after = len(os.listdir("/proc/self/fd"))
    assert after <= before + 3, (before, after)
    assert git_children() == []


def git_children() -> list[int]:
    """Pids of live child processes of this test process."""
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if entry.isdigit() and fields[1] == me and fields[0] != "Z":
            found.append(int(entry))
    return found


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains `text` (git-remote-https, ssh...)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry))
    return found


@pytest.fixture(autouse=True)
def _no_stray_processes() -> Iterator[None]:
    yield
    assert git_children() == []


class _Silent:
    """Accepts TCP connections on loopback and never answers, until closed."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.conns: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        deadline = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                self.conns.append(self.sock.accept()[0])
            except TimeoutError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for conn in self.conns:
            conn.close()
        self.sock.close()


@contextmanager
def silent_server() -> Iterator[int]:
    server = _Silent()
    server.thread.start()
    try:
        yield int(server.sock.getsockname()[1])
    finally:
        server.close()
