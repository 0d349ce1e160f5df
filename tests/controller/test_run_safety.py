"""`vzgitops run` refuses what it must not apply, and keeps enforcing the last good revision.

An invalid commit, a force-push (until --allow-rewrite) and an unsigned commit (with
--verify-signatures) are never applied; status says which revision is live and why the newer
one is not. An unreachable repository backs off and never ends the daemon; usage errors exit 64.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.state import StateDir, node_lock
from tests.controller.harness import Controllers, Remote, conf_value
from tests.support import VZGITOPS, container_doc, vz, vzgitops

FAST = ["--interval", "0.3", "--drift-interval", "1", "--log-format", "json"]


def applied(sha: str) -> Any:
    """A status check that returns the status once `sha` is applied and converged."""
    return lambda s: (s.get("applied") or {}).get("sha") == sha and s.get("converged") and s


def web(cpus: Any) -> dict[str, str]:
    return {"web.yaml": container_doc("web", 101, cpus=cpus)}


def pending(kind: str, sha: str) -> Any:
    """A status check that returns the status once `sha` is pending as `kind`."""
    return lambda s: (
        (s.get("pending") or {}).get("kind") == kind and s["pending"]["sha"] == sha and s
    )


def test_an_invalid_commit_is_not_applied_and_the_last_good_one_is_still_enforced(
    controllers: Controllers, remote: Remote, conf_dir: Path, node_env: dict[str, str]
) -> None:
    good = remote.commit(web(1), "web: 1 cpu")
    run = controllers.start(["--repo", remote.url, *FAST])
    run.wait(applied(good), "the good commit applied")
    bad = remote.commit(web("many"), "web: many cpus")
    status = run.wait(pending("invalid", bad), "the invalid commit reported")
    assert status["applied"]["sha"] == good
    assert status["pending"]["subject"] == "web: many cpus"
    assert any("web.yaml" in p and "cpus" in p for p in status["pending"]["problems"])
    assert good[:12] in status["pending"]["reason"]
    assert conf_value(conf_dir, 101, "CPUS") == "1"
    # a hand change is put back to the last good revision, not to the invalid one
    assert vz("vzctl", ["set", "101", "--cpus", "3", "--save"], node_env).returncode == 0
    run.wait(lambda s: conf_value(conf_dir, 101, "CPUS") == "1", "the good revision enforced")
    shown = vzgitops(["status", "--state-dir", str(run.state)], node_env)
    assert shown.returncode == 0
    assert f'{bad[:12]} "web: many cpus" (invalid): it does not validate' in shown.stdout
    assert "web.yaml" in shown.stdout
    assert f"applied:    {good[:12]}" in shown.stdout
    fixed = remote.commit(web(2), "web: 2 cpus")
    run.wait(applied(fixed), "the fixed commit applied")
    assert run.status()["pending"] is None
    assert conf_value(conf_dir, 101, "CPUS") == "2"
    assert run.stop() == 0


def test_a_force_push_is_held_until_allow_rewrite(
    controllers: Controllers, remote: Remote, conf_dir: Path
) -> None:
    first = remote.commit(web(1), "web: 1 cpu")
    run = controllers.start(["--repo", remote.url, *FAST])
    run.wait(applied(first), "the first commit applied")
    remote.work.write("web.yaml", container_doc("web", 101, cpus=2))
    remote.work.git("add", "-A")
    remote.work.git("commit", "-q", "--amend", "-m", "web: 2 cpus, rewritten")
    rewritten = remote.work.git("rev-parse", "HEAD")
    remote.push(force=True)
    status = run.wait(pending("held", rewritten), "the rewrite held")
    assert "history rewrite" in status["pending"]["reason"]
    assert "--allow-rewrite" in status["pending"]["reason"]
    assert status["applied"]["sha"] == first
    assert conf_value(conf_dir, 101, "CPUS") == "1"
    assert run.stop() == 0
    again = controllers.start(["--repo", remote.url, *FAST, "--allow-rewrite"])
    again.wait(applied(rewritten), "the rewrite applied with --allow-rewrite")
    assert conf_value(conf_dir, 101, "CPUS") == "2"
    assert again.stop() == 0


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_an_unsigned_commit_is_refused_with_verify_signatures(
    controllers: Controllers, remote: Remote, conf_dir: Path, tmp_path: Path
) -> None:
    key = tmp_path / "signing-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    public = (tmp_path / "signing-key.pub").read_text().split()
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"test@example.invalid {public[0]} {public[1]}\n")
    remote.work.write("web.yaml", container_doc("web", 101, cpus=1))
    remote.work.git("add", "-A")
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"]
    remote.work.git(*sign, "commit", "-q", "-S", "-m", "web: 1 cpu, signed")
    first = remote.work.git("rev-parse", "HEAD")
    remote.push()
    run = controllers.start(
        ["--repo", remote.url, *FAST, "--verify-signatures", "--allowed-signers", str(signers)]
    )
    run.wait(applied(first), "the signed commit applied")
    unsigned = remote.commit(web(2), "web: 2 cpus, unsigned")
    status = run.wait(pending("held", unsigned), "the unsigned commit refused")
    assert "not signed by a trusted key" in status["pending"]["reason"]
    assert unsigned[:12] in status["pending"]["reason"]
    assert conf_value(conf_dir, 101, "CPUS") == "1"
    assert run.stop() == 0


def test_an_unreachable_repository_backs_off_and_recovers(
    controllers: Controllers, remote: Remote, conf_dir: Path, tmp_path: Path
) -> None:
    later = tmp_path / "later.git"
    run = controllers.start(["--repo", later.as_uri(), "--interval", "1h", "--log-format", "json"])
    error = run.wait(lambda s: s.get("last_error"), "the fetch failure recorded")
    assert "later.git" in error["message"]
    run.wait(lambda s: (s.get("next") or {}).get("action") == "retry", "a retry scheduled")
    run.wait(lambda s: s.get("cycles", 0) >= 3, "two retries", timeout=15)
    first = remote.commit(web(1))
    shutil.copytree(remote.bare, tmp_path / "copying.git")
    (tmp_path / "copying.git").rename(later)
    run.wait(applied(first), "applied by a retry once the repository is there", timeout=40)
    assert run.status()["last_error"] is None
    assert run.stop() == 0
    delays = [e["retry_in"] for e in run.events() if e["event"] == "reconcile.retry"]
    assert delays[:3] == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    "args",
    [
        ["--webhook-listen", "127.0.0.1:0"],
        ["--verify-signatures"],
        ["--interval", "soon"],
        ["--metrics-listen", "localhost"],
    ],
)
def test_usage_errors_exit_64(node_env: dict[str, str], tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run(
        [*VZGITOPS, "run", "--state-dir", str(tmp_path / "state"), *args],
        env=node_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 64, done.stderr


def test_status_without_a_controller(node_env: dict[str, str], tmp_path: Path) -> None:
    done = vzgitops(["status", "--state-dir", str(tmp_path)], node_env)
    assert done.returncode == 1
    assert "no status in" in done.stderr


def test_status_of_a_dead_controller(node_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "status.json").write_text(
        json.dumps(
            {
                "state": "running",
                "pid": 2**22 + 7,
                "started_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
                "repo": "r",
                "drift": "correct",
            }
        )
    )
    done = vzgitops(["status", "--state-dir", str(tmp_path), "--format", "json"], node_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "dead"


def test_nothing_is_applied_while_another_process_holds_the_node_lock(
    controllers: Controllers, remote: Remote, conf_dir: Path
) -> None:
    first = remote.commit(web(1))
    run = controllers.start(["--repo", remote.url, "--interval", "0.3", "--drift-interval", "0"])
    run.wait(applied(first), "the first commit applied")
    with node_lock(StateDir(run.state), what="a test holding the lock"):
        second = remote.commit(web(2))
        error = run.wait(lambda s: s.get("last_error"), "the lock conflict reported")
        assert "node lock" in error["message"] and "a test holding the lock" in error["message"]
        assert conf_value(conf_dir, 101, "CPUS") == "1"
    run.wait(applied(second), "applied once the lock is free", timeout=15)
    assert conf_value(conf_dir, 101, "CPUS") == "2"
    assert run.stop() == 0
