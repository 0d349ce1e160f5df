"""The demo: the founding story on simulated OpenVZ nodes, as a user would type it.

A consultant keeps his customer's groupware server as YAML in git. He starts on his laptop
before the server arrives: the demo creates a simulated laptop node and a git repository from
examples/groupware/ placed on it, then runs, through the real `vzgitops` command: plan, apply,
and a plan with no changes. A file is written inside the groupware container. Then the server
arrives: a second simulated node behind a real sshd on 127.0.0.1 (OpenSSH, key authentication,
its host key pinned in git), and a reviewed commit moves both containers to it: the plan shows
two moves, apply runs vzmigrate on the laptop, and the file is on the server. Last, a commit
that changes one value, its one-change plan and its apply, on the server over ssh. Everything
lives under .demo/ and is recreated on each run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from reconciler.cli.colour import BOLD, enabled, paint

ROOT = Path(__file__).resolve().parent.parent
DEMO = Path(os.environ.get("VZGITOPS_DEMO_DIR") or ROOT / ".demo")  # the tests run it elsewhere
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


IDENTITY = ["-c", "user.name=Consultant", "-c", "user.email=consultant@example.invalid"]


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, *IDENTITY, "commit", "-q", "-m", message)


def place(repo: Path, node: str) -> None:
    """Every container of the repository on `node` (its metadata.node line)."""
    for path in sorted(repo.glob("groupware*.yaml")):
        text, count = re.subn(r"(?m)^(  node:\s*)\S+\s*$", rf"\g<1>{node}", path.read_text())
        if count != 1:
            sys.exit(f"demo: expected one 'node:' line in {path}")
        path.write_text(text)


LAPTOP_NODE = """apiVersion: vzgitops/v1
kind: Node
metadata:
  name: laptop
spec:
  access: local
"""


def make_repo(repo: Path) -> None:
    shutil.copytree(ROOT / "examples" / "groupware", repo)
    (repo / "node.yaml").unlink()  # the server's Node arrives with the server
    (repo / "laptop.yaml").write_text(LAPTOP_NODE)
    place(repo, "laptop")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "groupware, on the laptop until the server arrives")


def server_arrives(repo: Path, server: Any) -> None:
    """The server's Node (examples/groupware/node.yaml, reached over ssh) and both containers
    placed on it."""
    text = (ROOT / "examples" / "groupware" / "node.yaml").read_text()
    ssh = (
        "  access: ssh\n  ssh:\n"
        f"    host: {server.host}\n    port: {server.port}\n    user: {server.user}\n"
        f"    hostKey: {server.host_key}\n"
    )
    (repo / "node.yaml").write_text(text.replace("  access: local\n", ssh))
    place(repo, "office")
    commit(repo, "the server arrived: move the groupware there")


def change_cpus(repo: Path) -> None:
    path = repo / "groupware.yaml"
    text, count = re.subn(r"(?m)^(\s+cpus:\s*)2\s*$", r"\g<1>3", path.read_text())
    if count != 1:
        sys.exit(f"demo: expected one 'cpus: 2' line in {path}")
    path.write_text(text)
    commit(repo, "groupware: 3 CPUs")


def node_env(env: dict[str, str], node: Path) -> dict[str, str]:
    path = f"{node / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {**env, "PATH": path, "VZGITOPS_VZ_CONF_DIR": str(node / "conf")}


def main() -> None:
    from vzsim import sshd  # the simulator's sshd helper: demo, tests and benchmarks only

    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    laptop, server_dir, repo = DEMO / "laptop", DEMO / "server", DEMO / "repo"
    env = {**os.environ, "VZGITOPS_STATE_DIR": str(DEMO / "state")}
    banner("The laptop: a simulated OpenVZ node (real vzctl/vzlist executables backed by a directory)")
    sh([VZGITOPS, "sim", "init", str(laptop)], env)
    env = node_env(env, laptop)
    banner("The git repository is the server: examples/groupware/, on the laptop for now")
    make_repo(repo)
    sh(["git", "-C", str(repo), "log", "--oneline"], env)
    banner("What would applying it change?")
    sh([VZGITOPS, "plan", "--repo", str(repo)], env)
    banner("Apply it")
    sh([VZGITOPS, "apply", "--repo", str(repo)], env)
    sh(["vzlist", "-a"], env)
    banner("Plan again: the laptop matches git (exit code 0)")
    sh([VZGITOPS, "plan", "--repo", str(repo), "--detailed-exitcode"], env)
    notes = laptop / "private" / "101" / "root" / "notes.txt"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text("Meeting with the customer on Monday.\n")
    print(f"(the office writes {notes} inside the groupware container)")

    banner("The server arrives: a second node, reached over ssh (a real sshd on 127.0.0.1)")
    sh([VZGITOPS, "sim", "init", str(server_dir)], env)
    keys = sshd.ClientKeys.create(DEMO / "ssh")
    server = sshd.start(server_dir, keys)
    try:
        sshd.write_client_config(laptop, keys, {"office": server})  # the laptop's root ssh
        ssh = ["--ssh-config", str(keys.config)]
        banner("A reviewed commit moves the groupware to the server")
        server_arrives(repo, server)
        sh(["git", "-C", str(repo), "show", "--stat", "--oneline", "HEAD"], env)
        sh([VZGITOPS, "plan", "--repo", str(repo), *ssh, "--detailed-exitcode"], env, ok=(2,))
        banner("Apply it: vzmigrate on the laptop moves each container, data and all")
        sh([VZGITOPS, "apply", "--repo", str(repo), *ssh, "--yes"], env)
        print("(the laptop: empty now)", flush=True)
        sh(["vzlist", "-a"], env)
        print("(the server)", flush=True)
        sh(["vzlist", "-a"], node_env(env, server_dir))
        moved = server_dir / "private" / "101" / "root" / "notes.txt"
        print(f"$ cat {moved}\n{moved.read_text()}", end="", flush=True)
        banner("Every change after that is a reviewed commit: the groupware gets 3 CPUs")
        change_cpus(repo)
        sh([VZGITOPS, "plan", "--repo", str(repo), *ssh, "--detailed-exitcode"], env, ok=(2,))
        sh([VZGITOPS, "apply", "--repo", str(repo), *ssh], env)
        sh([VZGITOPS, "plan", "--repo", str(repo), *ssh, "--detailed-exitcode"], env)
    finally:
        server.stop()
    banner(f"Done: the server matches git. Explore it with: . {server_dir}/env && vzlist -a")


if __name__ == "__main__":
    main()
