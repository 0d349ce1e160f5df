"""`apply` as an operator meets it: it speaks while it works (the plan, then each vzctl call as it
starts and ends), asks on a terminal before destroying or recreating (a real pty running the real
entry point), refuses to destroy unasked without one, and `--target` plans and applies part of
a revision. Real git, the real command, the simulated node's real processes."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import VZGITOPS, GitRepo, container_doc, listing, mutating_calls, vzgitops


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write("web.yaml", container_doc("web", 101, state="stopped"))
    repo.write("db.yaml", container_doc("db", 102, state="stopped"))
    repo.commit("two")
    return repo


def apply(repo: GitRepo, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return vzgitops(["apply", "--repo", str(repo.path), *extra], env)


def retire_web(repo: GitRepo, env: dict[str, str]) -> None:
    """Both containers applied, then web marked absent: the next apply with --prune destroys."""
    assert apply(repo, env).returncode == 0
    repo.write("web.yaml", container_doc("web", 101, state="absent"))
    repo.commit("retire web")


def destroys(node_dir: Path) -> list[dict[str, Any]]:
    return [c for c in mutating_calls(node_dir) if c.get("verb") == "destroy"]


# ---- speaking while it works -----------------------------------------------------------------


def test_apply_shows_the_plan_then_each_call_as_it_starts_and_ends(
    env: dict[str, str], repo: GitRepo
) -> None:
    done = apply(repo, env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    plan_summary = lines.index("Plan: 2 to create, 0 to change, 0 to destroy.")
    started = next(
        i for i, line in enumerate(lines) if line.startswith("container 101: vzctl create 101 ")
    )
    assert lines[started].endswith(" ...")
    ended = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("container 101: vzctl create done after ")
    )
    assert lines[ended].endswith("s")
    db = next(
        i for i, line in enumerate(lines) if line.startswith("container 102: vzctl create 102 ")
    )
    assert plan_summary < started < ended < db
    assert lines[-1] == "Apply: 2 applied, 0 failed; converged."
    report = next(i for i, line in enumerate(lines) if line.startswith("vzgitops apply for node"))
    assert lines[0].startswith("vzgitops plan for node default at ") and report > db


def test_a_vzctl_call_in_flight_is_already_shown(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    """The start line is flushed before vzctl answers: here vzctl create never answers."""
    fault = vzgitops(["sim", "fault", str(sim_node.dir), "--verb", "create", "--hang"], env)
    assert fault.returncode == 0, fault.stderr
    proc = subprocess.Popen(
        [*VZGITOPS, "apply", "--repo", str(repo.path)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line.rstrip("\n"))
            if line.startswith("container 101: vzctl create 101 "):
                break
        assert seen and seen[-1].endswith(" ..."), seen
        assert "Plan: 2 to create, 0 to change, 0 to destroy." in seen
        assert proc.poll() is None  # still waiting for the hung vzctl create
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_json_apply_prints_one_document_and_speaks_on_stderr(
    env: dict[str, str], repo: GitRepo
) -> None:
    done = apply(repo, env, "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["kind"] == "apply" and report["apply"]["converged"] is True
    assert "Plan: 2 to create, 0 to change, 0 to destroy." in done.stderr
    assert any(
        line.startswith("container 102: vzctl create done after ")
        for line in done.stderr.splitlines()
    )


def test_a_failed_call_is_shown_with_its_exit_code(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    fault = vzgitops(
        [
            "sim",
            "fault",
            str(sim_node.dir),
            "--verb",
            "create",
            "--ctid",
            "102",
            "--fail",
            "1",
            "--exit",
            "21",
        ],
        env,
    )
    assert fault.returncode == 0, fault.stderr
    done = apply(repo, env)
    assert done.returncode == 1
    assert "container 102: vzctl create failed after " in done.stdout
    assert "(exit 21, permanent)" in done.stdout


# ---- confirming destroys -----------------------------------------------------------------------


def test_a_destroy_without_a_terminal_or_yes_is_refused_with_exit_64(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    retire_web(repo, env)
    refused = apply(repo, env, "--prune")
    assert refused.returncode == 64, refused.stdout + refused.stderr
    assert "the plan destroys or recreates container 101 (web: destroy)" in refused.stderr
    assert "stdin is not a terminal" in refused.stderr and "--yes" in refused.stderr
    assert 101 in listing(env) and destroys(sim_node.dir) == []
    done = apply(repo, env, "--prune", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    assert 101 not in listing(env)


def test_a_reviewed_plan_file_needs_no_confirmation(
    env: dict[str, str], repo: GitRepo, tmp_path: Path
) -> None:
    retire_web(repo, env)
    saved = tmp_path / "plan.json"
    planned = vzgitops(["plan", "--repo", str(repo.path), "--prune", "--out", str(saved)], env)
    assert planned.returncode == 0, planned.stderr
    done = apply(repo, env, "--prune", "--plan-file", str(saved))
    assert done.returncode == 0, done.stdout + done.stderr
    assert 101 not in listing(env)


def on_a_terminal(argv: list[str], env: dict[str, str], answer: str | None) -> tuple[int, str]:
    """Run the real entry point with a pty as its terminal; type `answer` at the prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the pty
        os.execve(VZGITOPS[0], [*VZGITOPS, *argv], env)
    seen, answered = b"", False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if answer is not None and not answered and b"Enter a value: " in seen:
                os.write(fd, answer.encode() + b"\n")
                answered = True
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"no end after 120 s:\n{seen.decode(errors='replace')}")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace").replace("\r\n", "\n")


def test_on_a_terminal_yes_confirms_the_destroy(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    retire_web(repo, env)
    code, shown = on_a_terminal(["apply", "--repo", str(repo.path), "--prune"], env, "yes")
    assert code == 0, shown
    assert (
        shown.index("Plan: 0 to create, 0 to change, 1 to destroy.")
        < shown.index(
            "Do you want to perform these actions? This destroys or recreates 101 (web: destroy)."
        )
        < shown.index("container 101: vzctl destroy 101 ...")
    )
    assert 101 not in listing(env) and len(destroys(sim_node.dir)) == 1


@pytest.mark.parametrize("answer", ["no", "y", ""])
def test_on_a_terminal_anything_but_yes_cancels(
    sim_node: Any, env: dict[str, str], repo: GitRepo, answer: str
) -> None:
    retire_web(repo, env)
    code, shown = on_a_terminal(["apply", "--repo", str(repo.path), "--prune"], env, answer)
    assert code == 1, shown
    assert "apply cancelled: the answer was not 'yes'; nothing was applied" in shown
    assert "vzctl stop 101 ..." not in shown
    assert 101 in listing(env) and destroys(sim_node.dir) == []


def test_on_a_terminal_yes_flag_and_harmless_plans_do_not_ask(
    env: dict[str, str], repo: GitRepo
) -> None:
    code, shown = on_a_terminal(["apply", "--repo", str(repo.path)], env, None)
    assert code == 0, shown
    assert "Enter a value" not in shown  # creating asks nothing
    repo.write("web.yaml", container_doc("web", 101, state="absent"))
    repo.commit("retire web")
    code, shown = on_a_terminal(["apply", "--repo", str(repo.path), "--prune", "--yes"], env, None)
    assert code == 0, shown
    assert "Enter a value" not in shown and 101 not in listing(env)


# ---- --target ----------------------------------------------------------------------------------


def test_target_by_name_applies_only_that_container_and_says_the_plan_is_partial(
    env: dict[str, str], repo: GitRepo
) -> None:
    planned = vzgitops(["plan", "--repo", str(repo.path), "--target", "db"], env)
    assert planned.returncode == 0, planned.stderr
    assert "Warning: partial plan (--target): only container 102;" in planned.stdout
    assert "Plan: 1 to create, 0 to change, 0 to destroy." in planned.stdout
    assert "container 101" not in planned.stdout
    done = apply(repo, env, "--target", "db", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["targets"] == [102] and report["apply"]["converged"] is True
    assert set(listing(env)) == {102}
    whole = vzgitops(["plan", "--repo", str(repo.path)], env)
    assert "Plan: 1 to create, 0 to change, 0 to destroy." in whole.stdout
    assert "partial" not in whole.stdout


def test_targets_repeat_and_take_ctids_of_git_or_the_node(
    sim_node: Any, env: dict[str, str], repo: GitRepo
) -> None:
    made = sim_node.run("vzctl", "create", "150", "--ostemplate", "debian-12.0-x86_64-minimal")
    assert made.returncode == 0, made.stderr
    done = apply(repo, env, "--target", "101", "--target", "150", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["targets"] == [101, 150]
    assert [c["ctid"] for c in report["nodes"][0]["changes"]] == [101]
    assert [u["ctid"] for u in report["nodes"][0]["unmanaged"]] == [150]
    assert set(listing(env)) == {101, 150}


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_target_neither_in_git_nor_on_the_node_is_an_error(
    sim_node: Any, env: dict[str, str], repo: GitRepo, command: str
) -> None:
    done = vzgitops(
        [command, "--repo", str(repo.path), "--target", "web", "--target", "nosuch"], env
    )
    assert done.returncode == 64, done.stdout + done.stderr
    assert (
        "--target 'nosuch': no container with that CTID or name in git (node default) or on the node"
        in done.stderr
    )
    assert mutating_calls(sim_node.dir) == []


# ---- suspend holds a manual apply too ----------------------------------------------------------


def test_a_manual_apply_holds_suspended_containers_and_exits_4(
    tmp_path: Path, env: dict[str, str], repo: GitRepo
) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    said = vzgitops(["suspend", *state, "101"], env)
    assert said.returncode == 0, said.stderr
    assert "suspended container 101" in said.stdout
    assert (tmp_path / "state" / "suspended.json").exists()
    done = apply(repo, env)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "! container 101 (web): suspended: container 101 is suspended" in done.stdout
    assert (
        done.stdout.splitlines()[-1]
        == "Apply: 1 applied, 0 failed; 1 held, the node does not match git."
    )
    assert set(listing(env)) == {102}
    assert vzgitops(["resume", *state], env).returncode == 0
    again = apply(repo, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(listing(env)) == {101, 102}


def test_target_is_refused_with_an_offline_plan(env: dict[str, str], repo: GitRepo) -> None:
    args = ["plan", "--repo", str(repo.path), "--base", "main", "--offline", "--target", "web"]
    done = vzgitops(args, env)
    assert done.returncode == 64, done.stdout + done.stderr
    assert "--target picks containers of a node; it cannot be used with --offline" in done.stderr
