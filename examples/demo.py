"""The demo: the founding story on a simulated OpenVZ node, as a user would type it.

A consultant keeps his groupware server as YAML in git. This script creates a fresh simulated
node and a git repository from examples/groupware/, then runs, through the real `vzgitops`
command: plan, apply, a second plan with no changes, a commit that changes one value, its
one-change plan, and its apply. Everything lives under .demo/ and is recreated on each run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from reconciler.cli.colour import BOLD, enabled, paint

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
VZGITOPS = str(Path(sys.executable).parent / "vzgitops")


def banner(text: str) -> None:
    """A bold heading on a terminal; plain text into a pipe or with NO_COLOR set."""
    print(f"\n{paint(f'=== {text}', BOLD, enabled(sys.stdout))}", flush=True)


def sh(argv: list[str], env: dict[str, str], cwd: Path | None = None, ok: tuple[int, ...] = (0,)) -> int:
    shown = " ".join(Path(a).name if a == VZGITOPS else a for a in argv)
    print(f"$ {shown}", flush=True)
    code = subprocess.run(argv, env=env, cwd=cwd, check=False).returncode
    if code not in ok:
        sys.exit(f"demo: '{shown}' exited {code}")
    return code


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(repo: Path) -> None:
    shutil.copytree(ROOT / "examples" / "groupware", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=Consultant", "-c", "user.email=consultant@example.invalid", "commit", "-q", "-m", "groupware server")


def change_cpus(repo: Path) -> None:
    path = next(p for p in sorted(repo.glob("*.yaml")) if "name: groupware\n" in p.read_text())
    text, count = re.subn(r"(?m)^(\s+cpus:\s*)2\s*$", r"\g<1>3", path.read_text())
    if count != 1:
        sys.exit(f"demo: expected one 'cpus: 2' line in {path}")
    path.write_text(text)
    git(repo, "-c", "user.name=Consultant", "-c", "user.email=consultant@example.invalid", "commit", "-q", "-am", "groupware: 3 CPUs")


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    node, repo, state = DEMO / "node", DEMO / "repo", DEMO / "state"
    env = dict(os.environ)
    banner("A simulated OpenVZ node (real vzctl/vzlist executables backed by a directory)")
    sh([VZGITOPS, "sim", "init", str(node)], env)
    env.update(PATH=f"{node / 'bin'}{os.pathsep}{env.get('PATH', '')}", VZGITOPS_VZ_CONF_DIR=str(node / "conf"), VZGITOPS_STATE_DIR=str(state))
    banner("The git repository is the server: examples/groupware/")
    make_repo(repo)
    sh(["git", "-C", str(repo), "log", "--oneline"], env)
    banner("What would applying it change?")
    sh([VZGITOPS, "plan", "--repo", str(repo)], env)
    banner("Apply it")
    sh([VZGITOPS, "apply", "--repo", str(repo)], env)
    sh(["vzlist", "-a"], env)
    banner("Plan again: the node matches git (exit code 0)")
    sh([VZGITOPS, "plan", "--repo", str(repo), "--detailed-exitcode"], env)
    banner("A reviewed commit: the groupware container gets 3 CPUs")
    change_cpus(repo)
    sh(["git", "-C", str(repo), "show", "--stat", "--oneline", "HEAD"], env)
    sh([VZGITOPS, "plan", "--repo", str(repo), "--detailed-exitcode"], env, ok=(2,))
    sh([VZGITOPS, "apply", "--repo", str(repo)], env)
    sh([VZGITOPS, "plan", "--repo", str(repo), "--detailed-exitcode"], env)
    banner("Done: the node matches git. Explore it with: . .demo/node/env && vzlist -a")


if __name__ == "__main__":
    main()
