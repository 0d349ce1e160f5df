"""The simplest alternative an admin would write: set every option of every container, every run.

    python benchmarks/admin_set_all.py REPO_DIR

Reads the Container documents of a checked-out repository with `yaml.safe_load_all` and runs one
`vzctl set CTID ... --save` per container with all of its options, without looking at the node
first. It never creates, starts or destroys anything; vzgitops's benchmarks compare its time and
vzctl calls with a reconcile of the same repository. Exits 1 if any call failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

LISTS = {"nameserver": "--nameserver", "searchdomain": "--searchdomain"}
SCALARS = ("hostname", "ram", "swap", "diskspace", "cpus", "cpuunits", "cpulimit", "description")


def set_argv(doc: dict[str, Any]) -> list[str]:
    spec = doc["spec"]
    argv = ["vzctl", "set", str(spec["ctid"]), "--name", doc["metadata"]["name"]]
    for key in SCALARS:
        if key in spec:
            argv += [f"--{key}", str(spec[key])]
    if "ip" in spec:
        argv += ["--ipdel", "all", *[a for ip in spec["ip"] for a in ("--ipadd", ip)]]
    for key, option in LISTS.items():
        argv += [a for value in spec.get(key, ()) for a in (option, value)]
    if "onboot" in spec:
        argv += ["--onboot", "yes" if spec["onboot"] else "no"]
    return [*argv, "--save"]


def containers(repo: Path) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(repo.rglob("*.yaml")):
        if ".git" not in path.parts:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == "Container"]
    return docs


def main() -> int:
    failed = 0
    docs = containers(Path(sys.argv[1]))
    for doc in docs:
        done = subprocess.run(set_argv(doc), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            failed += 1
            print(f"{doc['spec']['ctid']}: exit {done.returncode}: {done.stderr.strip()}")
    print(f"{len(docs)} containers set, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
