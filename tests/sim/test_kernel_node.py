"""Behaviour of the simulated *OpenVZ kernel* node where the upstream recordings cannot tell.

Live vs saved values, restart-only parameters and --setmode, messages vzctl prints on an
OpenVZ kernel (fairsched), mount/umount/destroy states, IP conflicts, exec.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import SimNode
from tests.sim.support import conf, conf_lines, create, ok


def _listing(node: SimNode, *fields: str) -> dict[str, object]:
    done = ok(node.run("vzlist", "-j", "-o", ",".join(fields), "101"))
    result: dict[str, object] = json.loads(done.stdout)[0]
    return result


def test_start_and_stop_print_what_vzctl_prints_on_an_openvz_kernel(sim_node: SimNode) -> None:
    create(sim_node, 101, "--ipadd", "10.0.0.5")
    ok(sim_node.run("vzctl", "set", "101", "--cpus", "2", "--cpulimit", "50", "--save"))
    assert ok(sim_node.run("vzctl", "start", "101")).stdout == (
        "Starting container...\nContainer is mounted\nAdding IP address(es): 10.0.0.5\n"
        "Setting CPU limit: 50\nSetting CPU units: 1000\nSetting CPUs: 2\n"
        "Container start in progress...\n"
    )
    assert ok(sim_node.run("vzctl", "stop", "101", "--fast")).stdout == (
        "Killing container ...\nContainer was stopped\nContainer is unmounted\n"
    )


def test_set_without_save_changes_only_the_running_values(sim_node: SimNode) -> None:
    create(sim_node, 101, start=True)
    saved = conf(sim_node)
    done = ok(sim_node.run("vzctl", "set", "101", "--cpus", "3", "--ram", "1G", "--swap", "1G"))
    assert done.stdout == (
        "UB limits were set successfully\nSetting CPUs: 3\n"
        "WARNING: Settings were not saved to config and will be lost after CT restart "
        "(use --save flag)\n"
    )
    assert conf(sim_node) == saved
    live = _listing(sim_node, "cpus", "physpages", "lockedpages")
    assert live["cpus"] == 3
    assert live["physpages"] == {"held": 98, "maxheld": 98, "barrier": 0, "limit": 262144,
                                 "failcnt": 0}  # fmt: skip
    assert live["lockedpages"] == {"held": 0, "maxheld": 0, "barrier": 262144, "limit": 262144,
                                   "failcnt": 0}  # fmt: skip
    ok(sim_node.run("vzctl", "restart", "101"))
    assert _listing(sim_node, "cpus")["cpus"] == 0


def test_set_without_save_on_a_stopped_container_is_31(sim_node: SimNode) -> None:
    create(sim_node, 101)
    done = sim_node.run("vzctl", "set", "101", "--hostname", "x")
    assert (done.returncode, done.stderr) == (
        31,
        "Unable to apply UBC parameters: container is not running\n",
    )


def test_save_on_a_running_container_applies_and_saves(sim_node: SimNode) -> None:
    create(sim_node, 101, start=True)
    done = ok(sim_node.run("vzctl", "set", "101", "--diskspace", "5G", "--cpuunits", "3000",
                           "--save"))  # fmt: skip
    assert done.stdout.endswith(f"CT configuration saved to {sim_node.dir}/conf/101.conf\n")
    live = _listing(sim_node, "diskspace", "cpuunits")
    assert live["diskspace"] == {"usage": live["diskspace"]["usage"],  # type: ignore[index]
                                 "softlimit": 5242880, "hardlimit": 5242880}  # fmt: skip
    assert live["cpuunits"] == 3012  # 500000 / (500000 // 3000), as read back from fairsched
    assert 'CPUUNITS="3000"' in conf_lines(sim_node)


def test_restart_only_parameters_are_saved_with_a_warning(sim_node: SimNode) -> None:
    create(sim_node, 101, start=True)
    done = ok(sim_node.run("vzctl", "set", "101", "--capability", "net_admin:on", "--features",
                           "nfs:on", "--save"))  # fmt: skip
    assert done.stderr == (
        "Unable to set capability on a running container\n"
        "Unable to set features on a running container\n"
        "WARNING: Some of the parameters could not be applied to a running container.\n"
        "\tPlease consider using --setmode option\n"
    )
    assert 'CAPABILITY="NET_ADMIN:on"' in conf_lines(sim_node)


def test_setmode_restart_restarts_and_ignore_refuses(sim_node: SimNode) -> None:
    create(sim_node, 101, start=True)
    ignored = sim_node.run("vzctl", "set", "101", "--netfilter", "full", "--setmode", "ignore",
                           "--save")  # fmt: skip
    assert ignored.returncode == 32
    assert 'NETFILTER="stateless"' in conf_lines(sim_node)
    restarted = ok(sim_node.run("vzctl", "set", "101", "--netfilter", "full", "--setmode",
                                "restart", "--save"))  # fmt: skip
    assert restarted.stdout.startswith("Restarting container\nStopping container ...\n")
    assert restarted.stderr == ""
    assert 'NETFILTER="full"' in conf_lines(sim_node)
    assert sim_node.run("vzctl", "set", "101", "--setmode", "restart").returncode == 20


def test_cpu_values_a_node_refuses(sim_node: SimNode) -> None:
    create(sim_node, 101, start=True)
    zero = sim_node.run("vzctl", "set", "101", "--cpus", "0", "--save")
    assert (zero.returncode, zero.stderr) == (21, "Bad parameter for --cpus: 0\n")
    negative = sim_node.run("vzctl", "set", "101", "--cpulimit", "-5", "--save")
    assert negative.returncode == 2
    assert "fairsched_rate: Invalid argument" in negative.stderr
    assert "CPULIMIT" not in conf(sim_node)


def test_an_address_held_by_another_running_container_is_78(sim_node: SimNode) -> None:
    create(sim_node, 101, "--ipadd", "10.0.0.9", start=True)
    create(sim_node, 102, "--ipadd", "10.0.0.9")
    done = sim_node.run("vzctl", "start", "102")
    assert done.returncode == 78
    assert "Unable to add IP 10.0.0.9: Address already in use" in done.stderr
    assert ok(sim_node.run("vzctl", "status", "102")).stdout == "CTID 102 exist unmounted down\n"
    ok(sim_node.run("vzctl", "stop", "101"))
    ok(sim_node.run("vzctl", "start", "102"))


def test_mount_umount_destroy_states(sim_node: SimNode) -> None:
    create(sim_node, 101)
    assert ok(sim_node.run("vzctl", "mount", "101")).stdout == "Container is mounted\n"
    assert sim_node.run("vzctl", "mount", "101").returncode == 41
    destroy = sim_node.run("vzctl", "destroy", "101")
    assert (destroy.returncode, destroy.stdout) == (
        41,
        "Container is currently mounted (umount first)\n",
    )
    ok(sim_node.run("vzctl", "umount", "101"))
    umount = sim_node.run("vzctl", "umount", "101")
    assert (umount.returncode, umount.stderr) == (40, "CT is not mounted\n")
    ok(sim_node.run("vzctl", "start", "101"))
    assert sim_node.run("vzctl", "umount", "101").returncode == 32
    assert sim_node.run("vzctl", "destroy", "101").returncode == 32


def test_disabled_container_needs_force(sim_node: SimNode) -> None:
    create(sim_node, 101)
    ok(sim_node.run("vzctl", "set", "101", "--disabled", "yes", "--save"))
    done = sim_node.run("vzctl", "start", "101")
    assert (done.returncode, done.stderr) == (105, "Container start disabled\n")
    ok(sim_node.run("vzctl", "start", "101", "--force"))


def test_exec_runs_in_the_guest(sim_node: SimNode) -> None:
    create(sim_node, 101, "--hostname", "web.example.com", "--ipadd", "10.0.0.5")
    assert sim_node.run("vzctl", "exec", "101", "true").returncode == 8
    assert sim_node.run("vzctl", "exec2", "101", "true").returncode == 31
    ok(sim_node.run("vzctl", "start", "101"))
    assert ok(sim_node.run("vzctl", "exec", "101", "hostname")).stdout == "web\n"
    hosts = ok(sim_node.run("vzctl", "exec", "101", "cat", "/etc/hosts")).stdout
    assert "10.0.0.5 web.example.com  web\n" in hosts
    assert sim_node.run("vzctl", "exec2", "101", "exit 7").returncode == 7
    assert sim_node.run("vzctl", "exec", "101", "exit 7").returncode == 8
    piped = ok(sim_node.run("vzctl", "exec", "101", "-", stdin="echo hi; test -f /etc/hosts\n"))
    assert piped.stdout == "hi\n"
    ok(sim_node.run("vzctl", "set", "101", "--hostname", "db.example.com", "--save"))
    assert ok(sim_node.run("vzctl", "exec", "101", "cat /etc/hostname")).stdout == "db\n"


def test_ct0_and_names_and_unsupported_commands(sim_node: SimNode) -> None:
    only_set = sim_node.run("vzctl", "start", "0")
    assert (only_set.returncode, only_set.stderr) == (21, "Only set actions are allowed for CT0\n")
    ct0 = ok(sim_node.run("vzctl", "set", "0", "--cpuunits", "2000"))
    assert ct0.stdout.startswith("Setting CPU units: 2000\n")
    create(sim_node, 101, "--name", "web")
    assert ok(sim_node.run("vzctl", "status", "web")).stdout == "CTID 101 exist unmounted down\n"
    unknown = sim_node.run("vzctl", "status", "nosuch")
    assert (unknown.returncode, unknown.stderr) == (21, "Bad CT ID nosuch\n")
    suspend = sim_node.run("vzctl", "suspend", "101")
    assert suspend.returncode == 20
    assert "not supported" in suspend.stderr
    assert sim_node.run("vzctl", "enter", "101").returncode == 31


@pytest.mark.parametrize(
    ("flags", "out_empty"), [(["--quiet"], True), (["--verbose"], False), ([], False)]
)
def test_quiet_and_verbose(sim_node: SimNode, flags: list[str], out_empty: bool) -> None:
    create(sim_node, 101, start=True)
    done = ok(sim_node.run("vzctl", *flags, "exec", "101", "true"))
    assert done.stdout == (
        "" if out_empty or "--verbose" not in flags else "Executing command: true \n"
    )
    stopped = sim_node.run("vzctl", *flags, "stop", "101")
    assert (stopped.stdout == "") is out_empty


def test_create_failures_leave_nothing_behind(sim_node: SimNode) -> None:
    missing = sim_node.run("vzctl", "create", "101", "--ostemplate", "nosuch-1.0-x86_64")
    assert missing.returncode == 91
    assert missing.stderr.endswith("Creation of container private area failed\n")
    assert not (sim_node.dir / "conf" / "101.conf").exists()
    assert not (sim_node.dir / "private" / "101").exists()
    ploop = sim_node.run("vzctl", "create", "101", "--ostemplate", "centos-6-x86",
                         "--layout", "ploop")  # fmt: skip
    assert ploop.returncode == 99
    create(sim_node, 101)
    again = sim_node.run("vzctl", "create", "101", "--ostemplate", "centos-6-x86")
    assert again.returncode == 44


def test_arguments_that_are_not_utf8_pass_through_as_bytes(sim_node: SimNode) -> None:
    create(sim_node, 101, start=True)
    name = b"\xff\xfe.example"
    done = subprocess.run(
        [str(sim_node.bin / "vzctl"), "set", "101", "--hostname", name, "--save"],
        env=sim_node.env,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b'HOSTNAME="\xff\xfe.example"\n' in (sim_node.dir / "conf" / "101.conf").read_bytes()
    listed = subprocess.run(
        [str(sim_node.bin / "vzlist"), "-H", "-o", "hostname", "101"],
        env=sim_node.env,
        capture_output=True,
        check=False,
    )
    assert listed.stdout == name + b"\n"
