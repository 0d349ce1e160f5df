"""End to end: what vzgitops says is true. Held work is not success, a vzctl failure keeps its
cause, and values from the node never reach a terminal raw (real git, the real command, the
simulated node's real processes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import GitRepo, container_doc, listing, vz, vzgitops


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def apply(repo: GitRepo, env: dict[str, str], *extra: str) -> Any:
    return vzgitops(["apply", "--repo", str(repo.path), *extra], env)


# ---- a failing vzctl call keeps its cause ----------------------------------------------------


def test_missing_os_template_names_the_template(env: dict[str, str], repo: GitRepo) -> None:
    """Pre-flight finds it before vzctl create would exit 91 (vzctl's own words for exit 91
    are tests/test_vzctl_detail.py's)."""
    repo.write("web.yaml", container_doc("web", 101, ostemplate="nosuch-1.0-x86_64"))
    repo.commit()
    done = apply(repo, env)
    assert done.returncode == 4, done.stdout + done.stderr
    assert (
        "! container 101 (web): preflight: ostemplate: OS template cache nosuch-1.0-x86_64 is not in "
        in (done.stdout)
    )
    assert "(vzctl create would exit 91)" in done.stdout


def test_an_address_an_adopted_container_git_dropped_has_is_held_by_the_plan(
    env: dict[str, str], repo: GitRepo
) -> None:
    """150 holds the address and is vzgitops's own (adopted, not in git, its destroy held):
    it keeps the address, so 101 is held as a conflict instead of failing vzctl start (78)."""
    for argv in (
        ["create", "150", "--ostemplate", "debian-12.0-x86_64-minimal", "--ipadd", "10.0.0.5"],
        ["start", "150"],
    ):
        assert vz("vzctl", argv, env).returncode == 0
    adopted = vzgitops(["adopt", "150"], env)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    repo.write("web.yaml", container_doc("web", 101, ip=["10.0.0.5"], state="running"))
    repo.commit()
    done = apply(repo, env, "--format", "json")
    assert done.returncode == 4, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["apply"]["results"] == []
    held = {h["ctid"]: h for h in report["nodes"][0]["held"]}
    assert held[101]["kind"] == "conflict"
    assert "already has the IP address 10.0.0.5" in held[101]["reason"]
    assert 101 not in listing(env)


# ---- held work is not success ----------------------------------------------------------------

TWO = {
    "web.yaml": container_doc("web", 101, hostname="web.lan"),
    "db.yaml": container_doc("db", 102, hostname="db.lan"),
}


def held_destroy(repo: GitRepo, env: dict[str, str]) -> None:
    """Two containers applied, then one removed from git: destroying it needs --prune."""
    for name, text in TWO.items():
        repo.write(name, text)
    repo.commit("two")
    assert apply(repo, env).returncode == 0
    repo.remove("db.yaml")
    repo.commit("drop db")


def test_plan_with_held_destroy_does_not_say_it_matches(env: dict[str, str], repo: GitRepo) -> None:
    held_destroy(repo, env)
    done = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "matches git" not in done.stdout
    assert "No changes to apply: 1 held; the node does not match git." in done.stdout
    assert "container 102 (db): destroy-held: destroying needs pruning" in done.stdout
    assert done.stdout.rstrip().endswith("Plan: 0 to create, 0 to change, 0 to destroy, 1 held.")
    plain = vzgitops(["plan", "--repo", str(repo.path)], env)
    assert plain.returncode == 0, plain.stdout + plain.stderr


def test_apply_with_held_destroy_exits_4_and_says_why(env: dict[str, str], repo: GitRepo) -> None:
    held_destroy(repo, env)
    done = apply(repo, env, "--format", "json")
    assert done.returncode == 4, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["apply"]["converged"] is True  # nothing it was allowed to do is left
    assert [(h["ctid"], h["kind"]) for h in report["apply"]["held"]] == [(102, "destroy-held")]
    assert report["counts"]["held"] == 1
    assert "converged" not in report["summary"]
    assert report["summary"] == "Apply: 0 applied, 0 failed; 1 held, the node does not match git."
    text = apply(repo, env)
    assert text.returncode == 4
    assert "converged" not in text.stdout and "the node does not match git" in text.stdout
    assert set(listing(env)) == {101, 102}


def test_mass_delete_refused_exits_4(env: dict[str, str], repo: GitRepo) -> None:
    for name, text in {**TWO, "spare.yaml": container_doc("spare", 103)}.items():
        repo.write(name, text)
    repo.commit("three")
    assert apply(repo, env).returncode == 0
    repo.remove("web.yaml")
    repo.remove("db.yaml")
    repo.commit("drop two")
    done = apply(repo, env, "--yes", "--prune")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "refusing to destroy 2 of 3" in done.stdout and "converged" not in done.stdout
    pruned = apply(repo, env, "--yes", "--prune", "--allow-mass-destroy")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert "converged" in pruned.stdout and set(listing(env)) == {103}


def test_unmanaged_containers_alone_are_not_held_work(env: dict[str, str], repo: GitRepo) -> None:
    assert (
        vz("vzctl", ["create", "150", "--ostemplate", "debian-12.0-x86_64-minimal"], env).returncode
        == 0
    )
    repo.write("web.yaml", TWO["web.yaml"])
    repo.commit()
    assert apply(repo, env).returncode == 0
    done = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No changes. The node matches git." in done.stdout


# ---- values from the node never reach a terminal raw -----------------------------------------

EVIL = "\x1b]0;owned\x07\x1b[2Jx\x9b31m"


def test_escape_sequences_from_the_node_are_printed_escaped(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    repo.write("web.yaml", container_doc("web", 101, hostname="web.lan", description="web"))
    repo.commit()
    assert apply(repo, env).returncode == 0
    conf = sim_node.dir / "conf" / "101.conf"
    text = conf.read_text(encoding="utf-8")
    text = text.replace('DESCRIPTION="web"', f'DESCRIPTION="{EVIL}"')
    conf.write_text(text.replace('HOSTNAME="web.lan"', f'HOSTNAME="h{EVIL}"'), encoding="utf-8")
    for argv in (["plan"], ["drift"]):
        for fmt in ("text", "markdown"):
            done = vzgitops([*argv, "--repo", str(repo.path), "--format", fmt], env)
            assert done.returncode in (0, 2), done.stdout + done.stderr
            shown = done.stdout
            assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown, (argv, fmt)
            assert "\\x1b]0;owned\\x07\\x1b[2Jx\\x9b31m" in shown, (argv, fmt, shown)
    raw = vzgitops(["drift", "--repo", str(repo.path), "--format", "json"], env)
    fields = {
        f["field"]: f for c in json.loads(raw.stdout)["drift"]["containers"] for f in c["fields"]
    }
    assert fields["description"]["saved"] == EVIL  # JSON keeps the value, escaped by json
