"""CTID.conf as vzctl writes and reads it: in-place rewrite, key order, stored forms, quirks."""

from __future__ import annotations

import os

import pytest

from tests.conftest import SimNode, make_sim_node
from tests.sim.support import REC, conf, conf_lines, create, ok


def test_create_writes_the_sample_then_its_keys(sim_node: SimNode) -> None:
    create(sim_node, 101, "--hostname", "ct101.example.com", "--ipadd", "10.0.0.5")
    recorded = (REC / "conf_101_after_create.conf").read_text(encoding="utf-8")
    expected = recorded.replace("debian-7.0-x86_64-minimal", "debian-12.0-x86_64-minimal")
    d = sim_node.dir
    assert conf(sim_node) == expected.replace("/vz/root", f"{d}/root").replace(
        "/vz/private", f"{d}/private"
    )


def test_set_save_on_a_missing_container_writes_a_stub(sim_node: SimNode) -> None:
    path = sim_node.dir / "conf" / "200.conf"
    done = ok(sim_node.run("vzctl", "set", "200", "--cpus", "2", "--save"))
    assert done.stderr == f"WARNING: {path} not found: No such file or directory\n"
    assert done.stdout == f"CT configuration saved to {path}\n"
    assert path.read_text(encoding="utf-8") == 'CPUS="2"\n'
    status = ok(sim_node.run("vzctl", "status", "200"))
    assert status.stdout == "CTID 200 deleted unmounted down\n"
    created = ok(sim_node.run("vzctl", "create", "200", "--ostemplate", "centos-7-x86_64"))
    assert created.stdout.splitlines()[:2] == [
        "Warning: CT config file already exists, not applying a default config sample.",
        "It might lead to incomplete CT configuration, you can use --applyconfig to fix.",
    ]
    lines = conf_lines(sim_node, 200)
    assert lines[0] == 'CPUS="2"'
    assert not any(ln.startswith(("PHYSPAGES=", "ORIGIN_SAMPLE=")) for ln in lines)
    again = sim_node.run("vzctl", "create", "201", "--config", "nosuch")
    assert again.returncode == 82


def test_create_with_config_refuses_an_existing_stub(sim_node: SimNode) -> None:
    ok(sim_node.run("vzctl", "set", "300", "--onboot", "yes", "--save"))
    done = sim_node.run("vzctl", "create", "300", "--config", "basic")
    assert done.returncode == 82
    assert "already exists, can not use --config option" in done.stderr


def test_existing_lines_are_rewritten_in_place_and_new_keys_appended(sim_node: SimNode) -> None:
    create(sim_node, 101, "--hostname", "a.example")
    path = sim_node.dir / "conf" / "101.conf"
    text = path.read_text(encoding="utf-8").replace(
        'HOSTNAME="a.example"\n', '# mine\nHOSTNAME="a.example"\nCUSTOM_KEY="kept"\n'
    )
    path.write_text(text, encoding="utf-8")
    inode = path.stat().st_ino
    ok(sim_node.run("vzctl", "set", "101", "--hostname", "b.example", "--onboot", "yes", "--save"))
    after = path.read_text(encoding="utf-8")
    assert after == text.replace('HOSTNAME="a.example"', 'HOSTNAME="b.example"') + 'ONBOOT="yes"\n'
    assert path.stat().st_ino != inode
    assert not (sim_node.dir / "conf" / "101.conf.tmp").exists()


def test_new_keys_follow_vzctl_order_not_the_command_line(sim_node: SimNode) -> None:
    create(sim_node, 102)
    ok(sim_node.run("vzctl", "set", "102", "--cpus", "2", "--cpulimit", "50", "--cpuunits", "2000",
                    "--save"))  # fmt: skip
    lines = conf_lines(sim_node, 102)
    assert lines[-2:] == ['CPULIMIT="50"', 'CPUS="2"']
    assert 'CPUUNITS="2000"' in lines[:8]


def test_the_first_duplicate_wins_and_only_it_is_rewritten(sim_node: SimNode) -> None:
    create(sim_node, 101, "--hostname", "first")
    path = sim_node.dir / "conf" / "101.conf"
    path.write_text(path.read_text(encoding="utf-8") + 'HOSTNAME="second"\n', encoding="utf-8")
    listed = ok(sim_node.run("vzlist", "-a", "-H", "-o", "hostname"))
    assert listed.stdout == "first\n"
    assert 'duplicate for HOSTNAME ("second"), ignored' in listed.stderr
    ok(sim_node.run("vzctl", "set", "101", "--hostname", "third", "--save"))
    hostnames = [ln for ln in conf_lines(sim_node) if ln.startswith("HOSTNAME=")]
    assert hostnames == ['HOSTNAME="third"', 'HOSTNAME="second"']


def test_a_symlinked_config_is_updated_through_the_link(sim_node: SimNode) -> None:
    create(sim_node, 101)
    path = sim_node.dir / "conf" / "101.conf"
    real = sim_node.dir / "ve.conf"
    os.rename(path, real)
    os.symlink(real, path)
    ok(sim_node.run("vzctl", "set", "101", "--onboot", "yes", "--save"))
    assert path.is_symlink()
    assert 'ONBOOT="yes"' in real.read_text(encoding="utf-8")


STORED = [
    (["--ram", "512M", "--swap", "256M"], ['PHYSPAGES="0:131072"', 'SWAPPAGES="0:65536"']),
    (["--ram", "1000000"], ['PHYSPAGES="0:245"']),
    (["--physpages", "0:768M", "--swappages", "128M"],
     ['PHYSPAGES="0:196608"', 'SWAPPAGES="32768"']),
    (["--diskspace", "10G"], ['DISKSPACE="10485760:10485760"']),
    (["--diskspace", "1G:2G", "--diskinodes", "200000:220000"],
     ['DISKSPACE="1048576:2097152"', 'DISKINODES="200000:220000"']),
    (["--diskspace", "2.2G"], ['DISKSPACE="2306867:2306867"']),
    (["--numproc", "100", "--numfile", "200:300"], ['NUMPROC="100"', 'NUMFILE="200:300"']),
    (["--kmemsize", "1M:2M", "--privvmpages", "unlimited"],
     ['KMEMSIZE="1048576:2097152"', 'PRIVVMPAGES="unlimited"']),
    (["--iolimit", "10", "--iopslimit", "500", "--ioprio", "3"],
     ['IOPRIO="3"', 'IOLIMIT="10485760"', 'IOPSLIMIT="500"']),
    (["--iolimit", "1K"], ['IOLIMIT="1024"']),
    (["--cpumask", "0-2,7", "--cpulimit", "25"], ['CPULIMIT="25"', 'CPUMASK="0-2,7"']),
    (["--description", 'a "quoted" one'], ['DESCRIPTION="a "quoted" one"']),
    (["--nameserver", "1.1.1.1", "--nameserver", "8.8.8.8", "--searchdomain", "lan"],
     ['NAMESERVER="1.1.1.1 8.8.8.8"', 'SEARCHDOMAIN="lan"']),
    (["--onboot", "no", "--bootorder", "10", "--disabled", "yes"],
     ['ONBOOT="no"', 'DISABLED="yes"', 'BOOTORDER="10"']),
    (["--stop-timeout", "30", "--ostemplate", "centos-7-x86_64"],
     ['OSTEMPLATE="centos-7-x86_64"', 'STOP_TIMEOUT="30"']),
    (["--quotaugidlimit", "100", "--netfilter", "full"],
     ['QUOTAUGIDLIMIT="100"']),
    (["--devnodes", "sdb:rw", "--devnodes", "net/tun:rwq"], ['DEVNODES="sdb:rw net/tun:rwq "']),
    (["--hostname", "a", "--hostname", "b"], ['HOSTNAME="a"']),
]  # fmt: skip


@pytest.mark.parametrize(("args", "appended"), STORED)
def test_values_are_stored_normalised(
    sim_node: SimNode, args: list[str], appended: list[str]
) -> None:
    create(sim_node, 101)
    before = conf_lines(sim_node)
    ok(sim_node.run("vzctl", "set", "101", *args, "--save"))
    after = conf_lines(sim_node)
    changed = [ln for ln in after if ln not in before]
    assert [ln for ln in changed if ln in appended] == appended


def test_netfilter_replaces_the_sample_line_in_place(sim_node: SimNode) -> None:
    create(sim_node, 101)
    ok(sim_node.run("vzctl", "set", "101", "--netfilter", "full", "--save"))
    assert 'NETFILTER="full"' in conf_lines(sim_node)[:10]


def test_ram_needs_swap_somewhere(sim_node: SimNode) -> None:
    ok(sim_node.run("vzctl", "create", "101", "--ostemplate", "centos-7-x86_64",
                    "--config", "basic"))  # fmt: skip
    done = sim_node.run("vzctl", "set", "101", "--ram", "1G", "--save")
    assert done.returncode == 28
    assert done.stderr == (
        "Error: required UB parameter (swap) not set\n"
        "Error: failed to apply some parameters, not saving configuration file!\n"
    )
    ok(sim_node.run("vzctl", "set", "101", "--ram", "1G", "--swap", "0", "--save"))


def test_capabilities_and_features_merge_with_the_saved_ones(sim_node: SimNode) -> None:
    create(sim_node, 101)
    for caps in ("net_admin:on", "SYS_TIME:on", "net_admin:off"):
        ok(sim_node.run("vzctl", "set", "101", "--capability", caps, "--save"))
    ok(sim_node.run("vzctl", "set", "101", "--features", "nfs:on", "--save"))
    ok(sim_node.run("vzctl", "set", "101", "--features", "sysfs:off,ppp:on", "--save"))
    lines = conf_lines(sim_node)
    assert 'CAPABILITY="NET_ADMIN:off SYS_TIME:on"' in lines
    assert 'FEATURES="sysfs:off nfs:on ppp:on"' in lines


def test_ip_list_new_addresses_go_last_and_readding_moves_one(sim_node: SimNode) -> None:
    create(sim_node, 101, "--ipadd", "10.0.0.5")
    for args in (["--ipadd", "10.0.0.6"], ["--ipadd", "10.0.0.7/24"], ["--ipadd", "10.0.0.5"]):
        ok(sim_node.run("vzctl", "set", "101", *args, "--save"))
    assert 'IP_ADDRESS="10.0.0.6 10.0.0.7/24 10.0.0.5"' in conf_lines(sim_node)
    ok(sim_node.run("vzctl", "set", "101", "--ipadd", "10.0.0.7", "--ipdel", "10.0.0.6", "--save"))
    assert 'IP_ADDRESS="10.0.0.5 10.0.0.7"' in conf_lines(sim_node)
    ok(sim_node.run("vzctl", "set", "101", "--ipdel", "all", "--save"))
    assert 'IP_ADDRESS=""' in conf_lines(sim_node)


def _netif(node: SimNode) -> str:
    return next(ln for ln in conf_lines(node) if ln.startswith("NETIF="))


def test_veth_interfaces_get_generated_parts_and_can_be_edited(sim_node: SimNode) -> None:
    create(sim_node, 101)
    ok(sim_node.run("vzctl", "set", "101", "--netif_add", "eth0", "--save"))
    first = _netif(sim_node)
    assert first.startswith('NETIF="ifname=eth0,mac=00:18:51:')
    assert ",host_ifname=veth101.0,host_mac=00:18:51:" in first
    other = make_sim_node(sim_node.dir.parent / "other")
    create(other, 101)
    ok(other.run("vzctl", "set", "101", "--netif_add", "eth0", "--save"))
    assert _netif(other) == first
    ok(sim_node.run("vzctl", "set", "101", "--netif_add", "eth1,,,,br0", "--ifname", "eth0",
                    "--bridge", "br1", "--save"))  # fmt: skip
    devs = _netif(sim_node)[len('NETIF="') : -1].split(";")
    assert devs[0].startswith("ifname=eth0,bridge=br1,mac=")
    assert devs[1].startswith("ifname=eth1,bridge=br0,mac=")
    assert ",host_ifname=veth101.1," in devs[1]
    bad = sim_node.run("vzctl", "set", "101", "--ifname", "eth9", "--mac", "00:11:22:33:44:55",
                       "--save")  # fmt: skip
    assert bad.returncode == 20
    assert "veth device eth9 is not configured, use --netif_add option first" in bad.stderr
    ok(sim_node.run("vzctl", "set", "101", "--netif_del", "eth0", "--save"))
    assert _netif(sim_node).startswith('NETIF="ifname=eth1,')


def test_names_symlink_conflict_rename_and_destroy(sim_node: SimNode) -> None:
    create(sim_node, 101)
    create(sim_node, 102)
    nosave = sim_node.run("vzctl", "set", "101", "--name", "web")
    assert (nosave.returncode, nosave.stderr) == (
        131,
        "Error: unable to use --name option without --save\n",
    )
    assert ok(sim_node.run("vzctl", "set", "101", "--name", "web", "--save")).stdout.startswith(
        "Name web assigned\n"
    )
    link = sim_node.dir / "names" / "web"
    assert os.readlink(link) == str(sim_node.dir / "conf" / "101.conf")
    taken = sim_node.run("vzctl", "set", "102", "--name", "web", "--save")
    assert taken.returncode == 131
    assert taken.stderr.startswith("Conflict: name web already used by container 101\n")
    assert ok(sim_node.run("vzctl", "status", "web")).stdout == "CTID 101 exist unmounted down\n"
    ok(sim_node.run("vzctl", "set", "web", "--name", "www", "--save"))
    assert not link.exists()
    assert (sim_node.dir / "names" / "www").is_symlink()
    ok(sim_node.run("vzctl", "destroy", "www"))
    assert not (sim_node.dir / "names" / "www").exists()
    assert (sim_node.dir / "conf" / "101.conf.destroyed").exists()
    assert not (sim_node.dir / "private" / "101").exists()
    assert not (sim_node.dir / "root" / "101").exists()
    assert sim_node.run("vzctl", "status", "www").returncode == 21


BAD = [
    ("--cpuunits", "7"), ("--cpuunits", "500001"), ("--cpus", "0"), ("--cpus", "-1"),
    ("--ioprio", "8"), ("--onboot", "maybe"), ("--ipadd", "1.2.3.4/33"), ("--ipadd", "::g"),
    ("--diskspace", "1X"), ("--numproc", "1K"), ("--name", "a/b"), ("--iolimit", "3G"),
    ("--setmode", "now"), ("--ram", "12Q"), ("--devnodes", "loop0:rw"), ("--cpumask", "3-1"),
]  # fmt: skip


@pytest.mark.parametrize(("option", "value"), BAD)
def test_bad_values_exit_21(sim_node: SimNode, option: str, value: str) -> None:
    create(sim_node, 101)
    done = sim_node.run("vzctl", "set", "101", option, value, "--save")
    assert done.returncode == 21
    assert done.stderr.endswith(f"Bad parameter for {option}: {value}\n")


def test_getopt_errors_prefixes_and_extra_arguments(sim_node: SimNode) -> None:
    create(sim_node, 101)
    vzctl = str(sim_node.bin / "vzctl")
    unknown = sim_node.run("vzctl", "set", "101", "--nosuchopt", "1", "--save")
    assert (unknown.returncode, unknown.stderr) == (
        21,
        f"{vzctl}: unrecognized option '--nosuchopt'\n",
    )
    ok(sim_node.run("vzctl", "set", "101", "--hostn", "short.example", "--save"))
    assert 'HOSTNAME="short.example"' in conf_lines(sim_node)
    ambiguous = sim_node.run("vzctl", "set", "101", "--cpu", "1")
    assert ambiguous.returncode == 21
    assert ambiguous.stderr.startswith(f"{vzctl}: option '--cpu' is ambiguous; possibilities:")
    missing = sim_node.run("vzctl", "set", "101", "--hostname")
    assert missing.stderr == f"{vzctl}: option '--hostname' requires an argument\n"
    extra = sim_node.run("vzctl", "set", "101", "--onboot", "yes", "stray", "--save")
    assert (extra.returncode, extra.stderr) == (20, "Invalid extra arguments: stray \n")
    assert sim_node.run("vzctl", "start", "101", "--fast").returncode == 20


@pytest.mark.parametrize(
    "lines",
    [
        'HOSTNAME = "spaced.example.com"\n',  # sets the key "HOSTNAME ", which nobody reads
        'HOSTNAME="unclosed.example.com\n',  # unmatched quotes: skipped
        'HOSTNAME="crlf.example.com"\r\n',  # "\r" is a blank: this one is read
    ],
)
def test_the_simulator_and_the_reconciler_read_a_config_alike(
    sim_node: SimNode, lines: str
) -> None:
    """One parser (reconciler.node.vzconf): vzlist's hostname is the one observe reads."""
    from reconciler.node.observe import read_configs

    path = sim_node.dir / "conf" / "101.conf"
    create(sim_node, 101, "--hostname", "ct101.example.com")
    path.write_text(lines + path.read_text(encoding="utf-8"), encoding="utf-8", newline="")
    listed = ok(sim_node.run("vzlist", "-H", "-o", "hostname", "101")).stdout.strip()
    assert listed == read_configs(sim_node.dir / "conf")[101]["HOSTNAME"]
    assert listed == ("crlf.example.com" if "\r" in lines else "ct101.example.com")
