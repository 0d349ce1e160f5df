"""`make bench`: a fleet over ssh: N simulated nodes x M containers, each node behind its own
real sshd on 127.0.0.1, planned by one `vzgitops plan` (no --node) against one node alone.

    .venv/bin/python -m benchmarks.sshfleet [--nodes 20] [--cts 50] [--runs 5] [--workdir DIR]

The fleet is built by `vzgitops apply --yes` over ssh (the containers stopped), then the no-op
plan of the whole fleet (`--parallel` = N) and of one node (`--node n00`) run alternately;
the medians are compared, and each sshd's log counts the connections and the commands (ssh
sessions) of each fleet plan.
Targets: the fleet's no-op plan at most 2x one node's wall time, one ssh connection per node
per plan. Exits 1 if a plan fails or is not empty.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

TARGET_RATIO = 2.0
VZGITOPS = [sys.executable, "-m", "reconciler.cli"]
TEMPLATE = "debian-12.0-x86_64-minimal"


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


def _repo(path: Path, servers: list[Any], cts: int) -> None:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    for i, server in enumerate(servers):
        name = f"n{i:02d}"
        ssh = {"host": server.host, "port": server.port, "user": server.user,
               "hostKey": server.host_key}  # fmt: skip
        docs = [{"apiVersion": "vzgitops/v1", "kind": "Node", "metadata": {"name": name},
                 "spec": {"access": "ssh", "ssh": ssh}}]  # fmt: skip
        for j in range(cts):
            ctid = 1000 + i * cts + j
            docs.append({
                "apiVersion": "vzgitops/v1", "kind": "Container",
                "metadata": {"name": f"ct{ctid}", "node": name},
                "spec": {"ctid": ctid, "ostemplate": TEMPLATE, "state": "stopped"},
            })  # fmt: skip
        (path / f"{name}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "fleet")


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run([*VZGITOPS, *argv], env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def _cpu() -> float:
    """CPU seconds of the finished children: vzgitops and its ssh clients (not the sshd side:
    the simulated nodes' vzlist, tar and sshd run under each node's sshd)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_cpu() -> float:
    """CPU seconds this machine has spent so far, on every core and in every process (from
    /proc/stat: all but idle and iowait): the fleet's processes and the simulated nodes'."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.sshfleet")
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--cts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--kex", default=None, help="KexAlgorithms for the client's ssh_config (OpenSSH's "
        "default when not given): the key exchange is the largest cost of a connection"
    )  # fmt: skip
    args = parser.parse_args(argv)
    from vzsim import sshd
    from vzsim.nodeinit import init_node

    work = Path(tempfile.mkdtemp(prefix="vzg-sshfleet-", dir=args.workdir))
    keys = sshd.ClientKeys.create(work / "client")
    if args.kex:
        with keys.config.open("a", encoding="utf-8") as config:
            config.write(f"    KexAlgorithms {args.kex}\n")
    servers = []
    try:
        for i in range(args.nodes):
            root = Path(init_node(str(work / f"n{i:02d}"), []))
            servers.append(sshd.start(root, keys))
        _repo(work / "repo", servers, args.cts)
        env = {**os.environ, "VZGITOPS_STATE_DIR": str(work / "state")}
        common = ["--repo", str(work / "repo"), "--ssh-config", str(keys.config)]
        fleet = [*common, "--parallel", str(args.nodes)]
        built, done = _run(["apply", "--yes", *fleet], env)
        if done.returncode != 0:
            print(done.stdout[-2000:] + done.stderr[-2000:], file=sys.stderr)
            return 1
        print(f"built {args.nodes} nodes x {args.cts} containers over ssh in {built:.1f} s")
        return _measure(args, servers, env, fleet, common)
    finally:
        for server in servers:
            server.stop()


def _measure(
    args: argparse.Namespace, servers: list[Any], env: dict[str, str], fleet: list[str],
    common: list[str],
) -> int:  # fmt: skip
    one_times, fleet_times, connections, one_cpu, fleet_cpu = [], [], [], [], []
    sessions: list[int] = []
    one_all: list[float] = []
    fleet_all: list[float] = []
    for _ in range(args.runs):
        cpu, machine = _cpu(), _machine_cpu()
        seconds, done = _run(["plan", "--detailed-exitcode", "--node", "n00", *common], env)
        one_cpu.append(_cpu() - cpu)
        one_all.append(_machine_cpu() - machine)
        if done.returncode != 0:
            print(done.stdout + done.stderr, file=sys.stderr)
            return 1
        one_times.append(seconds)
        before = [s.accepted() for s in servers]
        began = [s.sessions() for s in servers]
        cpu, machine = _cpu(), _machine_cpu()
        seconds, done = _run(["plan", "--detailed-exitcode", *fleet], env)
        fleet_cpu.append(_cpu() - cpu)
        fleet_all.append(_machine_cpu() - machine)
        if done.returncode != 0:
            print(done.stdout[-2000:] + done.stderr[-2000:], file=sys.stderr)
            return 1
        fleet_times.append(seconds)
        connections.append(max(s.accepted() - b for s, b in zip(servers, before, strict=True)))
        sessions.append(max(s.sessions() - b for s, b in zip(servers, began, strict=True)))
    one, whole = statistics.median(one_times), statistics.median(fleet_times)
    ratio = whole / one
    most = max(connections)
    met = ratio <= TARGET_RATIO and most == 1
    print(
        f"no-op plan over ssh, {args.nodes} nodes x {args.cts} containers: fleet {whole:.2f} s, "
        f"one node {one:.2f} s (medians of {args.runs}): {ratio:.2f}x (target <= "
        f"{TARGET_RATIO:g}x); ssh connections per node per plan: at most {most} (target 1): "
        f"{'met' if met else 'MISSED'}; commands (ssh sessions) per node per plan: at most "
        f"{max(sessions)}"
    )
    mine, theirs = statistics.median(fleet_cpu), statistics.median(one_cpu)
    print(
        f"CPU of vzgitops and its ssh clients: fleet {mine:.2f} s, one node {theirs:.2f} s "
        f"({mine / theirs:.2f}x for {args.nodes}x the nodes); the simulated nodes' own work "
        f"(sshd, vzlist, tar) shares this machine's {os.cpu_count()} cores, which real nodes "
        "do not"
    )
    everything, alone = statistics.median(fleet_all), statistics.median(one_all)
    cores = os.cpu_count() or 1
    print(
        f"CPU of the whole machine (vzgitops, ssh, and the nodes' sshd, vzlist, tar): fleet "
        f"{everything:.2f} s, one node {alone:.2f} s; the nodes' side {everything - mine:.2f} s "
        f"and {alone - theirs:.2f} s. On {cores} cores the fleet cannot take less than "
        f"{everything / cores:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
