"""The operator's CLI as a process: help, usage, --version, completion, colour and import.

Every test runs the real `vzgitops` entry point (a subprocess, a pty for the terminal cases,
real bash for completion, the simulated node for import).
"""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.args import build_parser
from reconciler.cli.helptext import HELP, subcommands
from tests.sim.support import create
from tests.support import VZGITOPS, vzgitops

DOCUMENTED = sorted(set(subcommands(build_parser())) - {"sim"})


def test_every_subcommand_is_documented() -> None:
    assert sorted(HELP) == DOCUMENTED


@pytest.mark.parametrize("command", DOCUMENTED)
def test_help_has_a_description_examples_and_exit_codes(command: str) -> None:
    done = vzgitops([command, "--help"], os.environ)
    assert done.returncode == 0, done.stderr
    assert HELP[command][0].split()[0] in done.stdout
    examples = done.stdout.split("examples:\n", 1)[1].split("\n\nexit codes:\n", 1)
    assert all(
        line.startswith("  vzgitops ") or "vzgitops" in line for line in examples[0].splitlines()
    )
    assert "64 usage" in examples[1]


def test_bare_vzgitops_prints_usage_and_is_a_usage_error() -> None:
    done = vzgitops([], os.environ)
    assert done.returncode == 64
    assert done.stderr.startswith("usage: vzgitops") and "completion" in done.stderr
    assert done.stdout == ""


def test_version_names_the_commit_and_every_dependency() -> None:
    done = vzgitops(["--version"], os.environ)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines()[1:])
    assert done.stdout.startswith("vzgitops 0.")
    wanted = {"commit", "pydantic", "GitPython", "watchfiles", "tenacity", "prometheus_client"}
    assert wanted | {"python"} == set(lines)
    assert all(lines[name][0].isdigit() for name in wanted - {"commit"}), lines


def _complete(script: Path, *words: str) -> list[str]:
    """What bash's completion function offers for `words` (the last one being typed)."""
    program = (
        f'source "{script}"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vzgitops; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", program, "bash", "vzgitops", *words],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.split()


@pytest.fixture(scope="session")
def bash_script(tmp_path_factory: Any) -> Path:
    done = vzgitops(["completion", "bash"], os.environ)
    assert done.returncode == 0, done.stderr
    path: Path = tmp_path_factory.mktemp("completion") / "vzgitops.bash"
    path.write_text(done.stdout, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (("pl",), ["plan"]),
        (("a",), ["adopt", "apply"]),
        (("--v",), ["--version"]),
        (("plan", "--det"), ["--detailed-exitcode"]),
        (("plan", "--format", ""), ["text", "json", "markdown"]),
        (("apply", "--format", "j"), ["json"]),
        (("--no-color", "import", "--fo"), ["--force"]),
        (("completion", "--"), ["--help"]),
        (("run", "--drift", ""), ["correct", "report"]),
    ],
)
def test_bash_completes_subcommands_options_and_choices(
    bash_script: Path, words: tuple[str, ...], offered: list[str]
) -> None:
    assert sorted(_complete(bash_script, *words)) == sorted(offered)


def test_bash_completion_offers_every_subcommand(bash_script: Path) -> None:
    assert set(DOCUMENTED) | {"sim"} <= set(_complete(bash_script, ""))


def test_zsh_script_names_every_subcommand_and_parses() -> None:
    done = vzgitops(["completion", "zsh"], os.environ)
    assert done.returncode == 0 and done.stdout.startswith("#compdef vzgitops\n")
    assert all(f"        {name}) compadd -- " in done.stdout for name in DOCUMENTED)
    zsh = shutil.which("zsh")
    if zsh is not None:  # syntax check where zsh is installed
        subprocess.run([zsh, "-n"], input=done.stdout, text=True, check=True, timeout=30)


def _on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run `argv` with stdout and stderr on a fresh pty; its exit code and what it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: every writer has closed the pty
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks)


BAD = ["validate", "--repo", "/nonexistent/vzgitops-repo"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return {**env, **extra}


def test_errors_are_red_on_a_terminal() -> None:
    code, shown = _on_a_terminal([*VZGITOPS, *BAD], _env())
    assert code == 64 and b"\x1b[31merror:\x1b[0m " in shown, shown


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        ([*VZGITOPS, *BAD], _env(NO_COLOR="1")),
        ([*VZGITOPS, "--no-color", *BAD], _env()),
    ],
)
def test_no_color_and_the_flag_keep_a_terminal_plain(argv: list[str], env: dict[str, str]) -> None:
    code, shown = _on_a_terminal(argv, env)
    assert code == 64 and b"error: " in shown and b"\x1b" not in shown, shown


def test_a_pipe_gets_no_escape_codes() -> None:
    done = vzgitops(BAD, _env())
    assert done.returncode == 64 and done.stderr.startswith("error: repository "), done.stderr


def test_the_demo_heading_is_plain_in_a_pipe_and_bold_on_a_terminal() -> None:
    probe = "from examples.demo import banner; banner('x')"
    root = Path(__file__).resolve().parent.parent
    piped = subprocess.run(
        [VZGITOPS[0], "-c", probe], cwd=root, capture_output=True, env=_env(), check=True
    )
    assert piped.stdout == b"\n=== x\n"
    code, shown = _on_a_terminal(
        [VZGITOPS[0], "-c", f"import os; os.chdir({str(root)!r}); {probe}"], _env()
    )
    assert code == 0 and b"\x1b[1m=== x\x1b[0m" in shown, shown


# ---- import -----------------------------------------------------------------------------------


def _imported(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return vzgitops(["import", "--out", str(tmp_path / "out"), *args], env)


@pytest.fixture
def node_env(sim_node: Any, tmp_path: Path) -> dict[str, str]:
    create(sim_node, 101, "--name", "web")
    create(sim_node, 102, "--name", "api")
    return {**sim_node.env, "VZGITOPS_STATE_DIR": str(tmp_path / "state")}


def test_import_never_overwrites_without_force(tmp_path: Path, node_env: dict[str, str]) -> None:
    (tmp_path / "out").mkdir()
    kept = tmp_path / "out" / "web.yaml"
    kept.write_text("# mine\n", encoding="utf-8")
    refused = _imported(tmp_path, node_env)
    assert refused.returncode == 1
    assert f"{kept} exist(s) already; nothing was written" in refused.stderr
    assert kept.read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "out" / "api.yaml").exists()  # nothing half-imported
    forced = _imported(tmp_path, node_env, "--force")
    assert forced.returncode == 0, forced.stderr
    assert yaml.safe_load(kept.read_text(encoding="utf-8"))["spec"]["ctid"] == 101


def test_import_of_a_ctid_not_on_the_node_is_an_error(
    tmp_path: Path, node_env: dict[str, str]
) -> None:
    done = _imported(tmp_path, node_env, "--ctid", "101", "--ctid", "999")
    assert done.returncode == 1
    assert "container(s) 999 not on the node; nothing imported" in done.stderr
    assert not (tmp_path / "out").exists()


def test_import_writes_the_node_given(tmp_path: Path, node_env: dict[str, str]) -> None:
    done = _imported(tmp_path, node_env, "--node", "hn1", "--ctid", "102")
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["api.yaml"]
    document = yaml.safe_load((tmp_path / "out" / "api.yaml").read_text(encoding="utf-8"))
    assert document["metadata"] == {"name": "api", "node": "hn1"}


def test_import_refuses_a_node_name_the_spec_refuses(
    tmp_path: Path, node_env: dict[str, str]
) -> None:
    done = _imported(tmp_path, node_env, "--node", "Bad Name!")
    assert done.returncode == 64 and "import --node 'Bad Name!'" in done.stderr, done.stderr


# ---- the one install path ---------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_the_ci_examples_and_the_unit_use_the_readme_install_path() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pipx install 'git+https://git.example.org/tools/vzgitops.git@v0.1.0'" in readme
    unit = (ROOT / "examples" / "systemd" / "vzgitops.service").read_text(encoding="utf-8")
    assert "pipx install 'git+https://git.example.org/tools/vzgitops.git@v0.1.0'" in unit
    assert "PIPX_BIN_DIR=/usr/local/bin" in unit and "ExecStart=/usr/local/bin/vzgitops run" in unit
    for name in ("github-plan.yml", "gitlab-plan.yml"):
        text = (ROOT / "examples" / "ci" / name).read_text(encoding="utf-8")
        assert 'pipx install "git+${VZGITOPS_SOURCE}@${VZGITOPS_VERSION}"' in text, name
        assert "pip install vzgitops" not in text and "pip install --quiet vzgitops" not in text


def test_the_license_file_is_the_one_pyproject_names() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = { text = "GPL-2.0-or-later" }' in pyproject
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 2, June 1991" in text
    assert "any later version" in text


# ---- --ref typos ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "hint"),
    [
        ("mian", " Did you mean 'main'?"),
        ("v1.1", " Did you mean 'v1.2' or 'v1.0'?"),  # best first, ties by difflib
        ("relase", " Did you mean 'release'?"),
        ("zzzzzz", ""),
    ],
)
def test_did_you_mean_suggests_close_names(ref: str, hint: str) -> None:
    from reconciler.source.names import did_you_mean

    assert did_you_mean(ref, ["main", "release", "v1.0", "v1.2", "main"]) == hint


def test_a_mistyped_ref_exits_1_naming_the_close_branch_and_tag(tmp_path: Path) -> None:
    from tests.support import GitRepo

    repo = GitRepo(tmp_path / "repo")
    repo.commit("empty")
    repo.git("tag", "v1.0")
    for ref, said in (("mian", "Did you mean 'main'?"), ("v1.O", "Did you mean 'v1.0'?")):
        done = vzgitops(["validate", "--repo", str(repo.path), "--ref", ref], os.environ)
        assert done.returncode == 1, done.stderr
        assert f"ref {ref!r} not found in {repo.path}. {said}" in done.stderr
