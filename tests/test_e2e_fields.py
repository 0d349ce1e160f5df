"""Every supported field applies on the simulated node and then plans empty; changes converge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import GitRepo, container_doc, mutating_calls, vzgitops

EVERYTHING: dict[str, Any] = {
    "layout": "simfs",
    "config": "vswap-256m",
    "hostname": "full.example.lan",
    "ip": ["10.20.0.5", "10.20.0.6/24", "2001:db8::5"],
    "nameserver": ["10.20.0.1", "10.20.0.2"],
    "searchdomain": ["example.lan", "lan"],
    "netif": [
        {
            "ifname": "eth0",
            "mac": "00:18:51:AA:BB:01",
            "host_ifname": "veth300.0",
            "host_mac": "00:18:51:AA:BB:02",
            "bridge": "br0",
        }
    ],
    "ram": "1536M",
    "swap": "512M",
    "diskspace": "10G:11G",
    "diskinodes": "200000:220000",
    "quotaugidlimit": 100,
    "cpus": 2,
    "cpuunits": 2000,
    "cpulimit": 150,
    "cpumask": "0-1",
    "ioprio": 6,
    "iolimit": "20M",
    "iopslimit": 500,
    "numproc": "400:500",
    "numtcpsock": 1000,
    "numothersock": "800:900",
    "numfile": 20000,
    "numflock": "200:220",
    "numpty": 32,
    "numsiginfo": 1024,
    "numiptent": "200",
    "onboot": True,
    "bootorder": 50,
    "disabled": False,
    "description": "every field, one container",
    "features": {"nfs": True, "sysfs": False},
    "capability": {"net_admin": True, "sys_time": False},
    "netfilter": "stateful",
    "devnodes": {"net/tun": "rw"},
    "restart": "auto",
    "allowRecreate": False,
    "protect": True,
}

CHANGED: dict[str, Any] = {
    "hostname": "renamed.example.lan",
    "ip": ["10.20.0.5", "10.20.0.7/25"],
    "nameserver": ["10.20.0.2"],
    "netif": [
        {"ifname": "eth0", "mac": "00:18:51:AA:BB:01", "bridge": "br1"},
        {"ifname": "eth1", "mac": "00:18:51:AA:BB:09"},
    ],
    "ram": "2G",
    "diskspace": "12G",
    "quotaugidlimit": 0,
    "cpumask": "all",
    "iolimit": 0,
    "numproc": "unlimited",
    "onboot": False,
    "description": "changed",
    "features": {"nfs": False},
    "capability": {"sys_time": True},
    "netfilter": "full",
    "devnodes": {"net/tun": "none"},
}


def test_every_field_applies_then_plans_empty_and_changes_converge(
    sim_node: Any, env: dict[str, str], tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("full.yaml", container_doc("full", 300, **EVERYTHING))
    repo.commit("every field")
    assert vzgitops(["validate", "--repo", str(repo.path)], env).returncode == 0
    applied = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    planned = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert planned.returncode == 0, planned.stdout + planned.stderr

    repo.write("full.yaml", container_doc("full", 300, **{**EVERYTHING, **CHANGED}))
    repo.commit("change most fields")
    before = len(mutating_calls(sim_node.dir))
    changed = vzgitops(["apply", "--repo", str(repo.path)], env)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    verbs = [c["argv"][1] for c in mutating_calls(sim_node.dir)[before:]]
    assert verbs == ["set", "restart"], verbs
    again = vzgitops(["plan", "--repo", str(repo.path), "--detailed-exitcode"], env)
    assert again.returncode == 0, again.stdout + again.stderr
