"""vzlist output: table layout, options, JSON shape and (in)validity, kernel vs config values."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SimNode
from tests.sim.support import REC, create, ok
from vzsim.bulk import populate

HEADER = "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n"


@pytest.fixture
def three(sim_node: SimNode) -> SimNode:
    """101 running (two IPs, one with a mask), 102 stopped named `db`, 103 stopped."""
    create(sim_node, 101, "--hostname", "b.example", "--ipadd", "10.0.0.7/24", "--ipadd",
           "10.0.0.5", start=True)  # fmt: skip
    create(sim_node, 102, "--hostname", "a.example", "--ipadd", "10.0.0.12", "--name", "db")
    create(sim_node, 103, "--ipadd", "10.0.0.13", "--description", "spare one")
    return sim_node


def test_default_listing_shows_running_containers_with_live_ips(three: SimNode) -> None:
    assert ok(three.run("vzlist")).stdout == HEADER + (
        "       101          2 running   10.0.0.7        b.example\n"
    )
    assert ok(three.run("vzlist", "-a", "-H")).stdout == (
        "       101          2 running   10.0.0.7        b.example\n"
        "       102          - stopped   10.0.0.12       a.example\n"
        "       103          - stopped   10.0.0.13       -\n"
    )
    assert ok(three.run("vzlist", "-S", "-1")).stdout == "       102\n       103\n"


def test_names_sorting_and_filters(three: SimNode) -> None:
    named = ok(three.run("vzlist", "-a", "-n", "-H", "-o", "smart_name,name"))
    assert named.stdout == "       101 -\n        db db\n       103 -\n"
    by_host = ok(three.run("vzlist", "-a", "-H", "-o", "ctid", "-s", "hostname"))
    assert by_host.stdout.split() == ["103", "102", "101"]
    reverse = ok(three.run("vzlist", "-a", "-H", "-o", "ctid", "-s", "-ctid"))
    assert reverse.stdout.split() == ["103", "102", "101"]
    assert ok(three.run("vzlist", "-a", "-H", "-o", "ctid", "-h", "*.example")).stdout.split() == [
        "101",
        "102",
    ]
    assert ok(three.run("vzlist", "-a", "-H", "-o", "ctid", "-N", "d?")).stdout.split() == ["102"]
    assert ok(three.run("vzlist", "-a", "-H", "-o", "ctid", "-d", "spare*")).stdout.split() == [
        "103"
    ]
    assert ok(three.run("vzlist", "-H", "-o", "ctid", "db")).stdout.split() == ["102"]


def test_errors_and_empty_results(three: SimNode) -> None:
    unknown = three.run("vzlist", "-o", "nosuch")
    assert (unknown.returncode, unknown.stderr) == (1, "Unknown field: nosuch\n")
    bad_sort = three.run("vzlist", "-s", "-nosuch")
    assert (bad_sort.returncode, bad_sort.stderr) == (1, "Invalid sort field name: -nosuch\n")
    missing = three.run("vzlist", "999")
    assert (missing.returncode, missing.stderr) == (1, "Container(s) not found\n")
    missing_json = three.run("vzlist", "-j", "999")
    assert (missing_json.returncode, missing_json.stdout) == (1, "[]\n")
    suffixed = three.run("vzlist", "-j", "-o", "numproc.b")
    assert suffixed.stderr == "Field `numproc.b' is not available in JSON output\n"
    ok(three.run("vzctl", "stop", "101"))
    nothing = ok(three.run("vzlist"))
    assert (nothing.stdout, nothing.stderr) == ("", "Container(s) not found\n")
    assert ok(three.run("vzlist", "-j")).stdout == "[]\n"


def test_field_list_and_usage_match_the_recordings(sim_node: SimNode) -> None:
    assert ok(sim_node.run("vzlist", "-L")).stdout == (REC / "vzlist_L.out").read_text()
    version = sim_node.run("vzlist", "--version")
    assert version.returncode == 1
    assert version.stdout == (REC / "vzlist_version.out").read_text()


def test_empty_node_json_is_bracket_lines(sim_node: SimNode) -> None:
    assert ok(sim_node.run("vzlist", "-a", "-j")).stdout == "[\n]\n"
    assert ok(sim_node.run("vzlist", "-a")).stdout == HEADER


def test_non_last_strings_are_cut_unless_no_trim(sim_node: SimNode) -> None:
    long = "h" * 40 + ".example"
    create(sim_node, 101, "--hostname", long, "--ipadd", "10.0.0.1", "--ipadd", "10.0.0.2")
    cut = ok(sim_node.run("vzlist", "-a", "-H", "-o", "hostname,ip"))
    assert cut.stdout == "h" * 32 + " 10.0.0.1 10.0.0.2\n"
    full = ok(sim_node.run("vzlist", "-a", "-H", "-t", "-o", "hostname,ip,ctid"))
    assert full.stdout == f"{long} 10.0.0.1 10.0.0.2        101\n"


def test_stopped_values_come_from_the_config(sim_node: SimNode) -> None:
    create(sim_node, 101)
    done = ok(sim_node.run("vzlist", "-a", "-H", "-o", "physpages,physpages.l,cpuunits,vswap"))
    assert done.stdout == "         -      65536    1000   yes\n"


def test_a_stopped_container_without_private_area_is_hidden(sim_node: SimNode) -> None:
    create(sim_node, 101)
    create(sim_node, 102)
    (sim_node.dir / "private" / "102").rename(sim_node.dir / "elsewhere")
    assert ok(sim_node.run("vzlist", "-a", "-H", "-o", "ctid")).stdout.split() == ["101"]


def test_a_directory_in_place_of_a_config_reads_as_an_empty_config(sim_node: SimNode) -> None:
    """vps_parse_config() fopen()s it and fgets() fails (EISDIR): the global defaults apply,
    so the container is listed (its private area is there) with nothing from its config."""
    create(sim_node, 101, "--hostname", "web.lan")
    create(sim_node, 102, "--hostname", "db.lan")
    conf = sim_node.dir / "conf" / "102.conf"
    conf.unlink()
    conf.mkdir()
    done = ok(sim_node.run("vzlist", "-a", "-H", "-o", "ctid,status,hostname"))
    assert (done.stdout, done.stderr) == (
        "       101 stopped   web.lan\n       102 stopped   -\n",
        "",
    )


def test_a_running_container_is_listed_without_its_config(sim_node: SimNode) -> None:
    create(sim_node, 101, "--hostname", "web.lan", start=True)
    (sim_node.dir / "conf" / "101.conf").unlink()
    done = ok(sim_node.run("vzlist", "-a", "-H", "-o", "ctid,status"))
    assert done.stdout == "       101 running\n"


def test_running_containers_show_kernel_values_not_the_config(three: SimNode) -> None:
    ok(three.run("vzctl", "set", "101", "--cpulimit", "33", "--save"))
    conf = three.dir / "conf" / "101.conf"
    conf.write_text(conf.read_text() + 'CPUS="7"\n', encoding="utf-8")  # drift by hand
    item = json.loads(ok(three.run("vzlist", "-j", "101")).stdout)[0]
    assert item["ip"] == ["10.0.0.7", "10.0.0.5"]
    assert item["status"] == "running"
    assert item["cpus"] == 0
    assert item["cpulimit"] == 33
    assert item["privvmpages"]["limit"] == 9223372036854775807
    assert item["vmguarpages"]["barrier"] == 65536 + 131072
    assert item["laverage"] == [0.0, 0.0, 0.0]
    stopped = json.loads(ok(three.run("vzlist", "-j", "102")).stdout)[0]
    assert stopped["ip"] == ["10.0.0.12"]
    assert stopped["laverage"] is None
    assert stopped["privvmpages"] == {"held": 0, "maxheld": 0, "barrier": 0, "limit": 0,
                                      "failcnt": 0}  # fmt: skip


def test_full_json_has_the_recorded_shape(sim_node: SimNode) -> None:
    create(sim_node, 101, "--hostname", "ct101.example.com", "--ipadd", "10.0.0.5")
    mine = json.loads(ok(sim_node.run("vzlist", "-a", "-j")).stdout)
    recorded = json.loads((REC / "native_vzlist_S_j_1ct_stopped.out").read_text())
    assert list(mine[0]) == list(recorded[0])
    for key in ("kmemsize", "physpages", "swappages", "diskspace", "cpuunits", "vswap"):
        assert mine[0][key] == recorded[0][key]


def test_a_quote_in_a_description_makes_the_json_invalid(sim_node: SimNode) -> None:
    create(sim_node, 101, "--description", "plain words")
    assert json.loads(ok(sim_node.run("vzlist", "-a", "-j", "-o", "description")).stdout)
    ok(sim_node.run("vzctl", "set", "101", "--description", 'say "hi"', "--save"))
    raw = ok(sim_node.run("vzlist", "-a", "-j", "-o", "ctid,description")).stdout
    assert '"description": "say "hi""' in raw
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


def test_a_thousand_containers_list_as_valid_json(sim_node: SimNode) -> None:
    populate(str(sim_node.dir), range(1000, 2000), running=range(1000, 2000, 4))
    done = ok(sim_node.run("vzlist", "-a", "-j", "-o", "ctid,status,ip,physpages,diskspace"))
    items = json.loads(done.stdout)
    assert [i["ctid"] for i in items] == list(range(1000, 2000))
    assert sum(i["status"] == "running" for i in items) == 250
    assert items[0]["ip"] == ["10.0.3.232"]
    table = ok(sim_node.run("vzlist", "-H", "-o", "ctid"))
    assert len(table.stdout.splitlines()) == 250
