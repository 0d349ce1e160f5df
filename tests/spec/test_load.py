"""Loading valid revisions: values, node placement, the Defaults merge, order, and problem order."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SpecError, UsageError
from reconciler.spec.desired import DEFAULT_NODE, DesiredState
from reconciler.spec.load import is_document_path, load_desired, validate_files

EXAMPLES = Path(__file__).parents[2] / "examples"


def container(name: str, ctid: int, extra: str = "", node: str | None = None) -> bytes:
    placed = f"  node: {node}\n" if node else ""
    text = (
        "apiVersion: vzgitops/v1\nkind: Container\n"
        f"metadata:\n  name: {name}\n{placed}spec:\n  ctid: {ctid}\n"
    )
    return (text + "".join(f"  {line}\n" for line in extra.splitlines() if line)).encode()


def node(name: str, capacity: str = "") -> bytes:
    text = f"apiVersion: vzgitops/v1\nkind: Node\nmetadata:\n  name: {name}\n"
    if capacity:
        text += "spec:\n  capacity:\n" + "".join(f"    {c}\n" for c in capacity.splitlines())
    return text.encode()


def defaults(name: str, extra: str) -> bytes:
    head = f"apiVersion: vzgitops/v1\nkind: Defaults\nmetadata:\n  name: {name}\nspec:\n"
    return (head + "".join(f"  {line}\n" for line in extra.splitlines())).encode()


OST = "ostemplate: debian-12.0-x86_64-minimal"


def test_hostname_no_is_the_string_no() -> None:
    state = load_desired({"web.yaml": container("web", 101, f"{OST}\nhostname: no")})
    assert state.containers[0].spec.hostname == "no"


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("onboot: yes", "onboot", True),
        ("onboot: No", "onboot", False),
        ("onboot: true", "onboot", True),
        ("ram: 2048M", "ram", "2048M"),
        ("ram: 536870912B", "ram", "536870912B"),
        ("diskspace: 10G:12G", "diskspace", "10G:12G"),
        ("ip: [192.168.10.101/255.255.255.0]", "ip", ["192.168.10.101/24"]),
        ("ip: ['FD00:0::1']", "ip", ["fd00::1"]),
        ("hostname: Web.LAN", "hostname", "web.lan"),
        ("state: absent", "state", "absent"),
        (
            "description: 'Team wiki; nightly backup & rsync > NAS'",
            "description",
            "Team wiki; nightly backup & rsync > NAS",
        ),
    ],
)
def test_valid_values_load_as_the_model_reads_them(line: str, field: str, expected: object) -> None:
    state = load_desired({"web.yaml": container("web", 101, f"{OST}\n{line}")})
    assert getattr(state.containers[0].spec, field) == expected


def test_without_nodes_every_container_is_on_the_default_node() -> None:
    files = {"a.yaml": container("a", 102, OST), "b.yaml": container("b", 101, OST, node="x")}
    state = load_desired(files)
    assert [(c.name, c.node) for c in state.containers] == [
        ("b", DEFAULT_NODE),
        ("a", DEFAULT_NODE),
    ]
    assert state.nodes == ()


def test_with_one_node_the_node_may_be_omitted() -> None:
    files = {"n.yaml": node("office"), "a.yaml": container("a", 101, OST)}
    state = load_desired(files)
    assert state.containers[0].node == "office"
    assert [n.metadata.name for n in state.nodes] == ["office"]


def test_with_two_nodes_the_same_ctid_may_be_used_once_per_node() -> None:
    files = {
        "nodes.yaml": node("hn2") + b"---\n" + node("hn1"),
        "a.yaml": container("a", 101, OST, node="hn1"),
        "b.yaml": container("b", 101, OST, node="hn2"),
    }
    state = load_desired(files)
    assert [(c.ctid, c.node) for c in state.containers] == [(101, "hn1"), (101, "hn2")]
    assert [n.metadata.name for n in state.nodes] == ["hn1", "hn2"]
    assert [c.name for c in state.for_node("hn2")] == ["b"]


def test_containers_are_sorted_by_ctid_and_keep_their_origin() -> None:
    files = {"z.yaml": container("z", 105, OST), "a.yaml": b"# x\n" + container("a", 300, OST)}
    state = load_desired(files)
    assert [c.ctid for c in state.containers] == [105, 300]
    assert [c.origin.render() for c in state.containers] == ["z.yaml:1", "a.yaml:2"]


def test_defaults_merge_repository_then_node_then_container() -> None:
    files = {
        "n.yaml": node("office"),
        "site.yaml": defaults("site", f"{OST}\nram: 1G\nswap: 256M\ncpus: 1\nonboot: true"),
        "node.yaml": defaults("office", "node: office\nram: 2G\ncpus: 2"),
        "web.yaml": container("web", 101, "cpus: 4\nfeatures: {nfs: true}"),
    }
    spec = load_desired(files).containers[0].spec
    assert (spec.ostemplate, spec.ram, spec.swap, spec.cpus, spec.onboot) == (
        "debian-12.0-x86_64-minimal",
        "2G",
        "256M",
        4,
        True,
    )


def test_a_default_never_overrides_false_or_zero_set_by_the_container() -> None:
    files = {
        "site.yaml": defaults("site", f"{OST}\nonboot: true\ncpulimit: 100"),
        "web.yaml": container("web", 101, "onboot: false\ncpulimit: 0"),
    }
    spec = load_desired(files).containers[0].spec
    assert (spec.onboot, spec.cpulimit) == (False, 0)


def test_an_absent_container_needs_no_template_and_no_capacity() -> None:
    files = {
        "n.yaml": node("office", "ram: 1G"),
        "web.yaml": container("web", 101, "state: absent\nram: 64G"),
    }
    assert load_desired(files).containers[0].spec.state == "absent"


def test_capacity_may_be_used_exactly() -> None:
    files = {
        "n.yaml": node("office", "ram: 4G\ndisk: 50G\ncpus: 4"),
        "a.yaml": container("a", 101, f"{OST}\nram: 2G\ndiskspace: 20G:30G\ncpus: 2"),
        "b.yaml": container("b", 102, f"{OST}\nram: 2048M\ndiskspace: 20480M\ncpus: 2"),
    }
    assert validate_files(files) == []


def test_load_desired_raises_with_every_problem_sorted() -> None:
    files = {
        "b.yaml": container("b", 101, "cpus: 1.5\nonboot: maybe"),
        "a.yaml": container("a", 99, OST),
    }
    with pytest.raises(SpecError) as caught:
        load_desired(files)
    rendered = [p.render() for p in caught.value.problems]
    assert [r.split(": ")[0] for r in rendered] == ["a.yaml:6:9", "b.yaml:7:9", "b.yaml:8:11"]
    assert str(caught.value).endswith("(and 2 more)")


@pytest.mark.parametrize(
    ("path", "read"),
    [
        ("web.yaml", True),
        ("containers/web.yml", True),
        ("README.md", False),
        ("web.yaml.orig", False),
        (".github/workflows/ci.yml", False),
        ("containers/.draft.yaml", False),
    ],
)
def test_which_files_hold_documents(path: str, read: bool) -> None:
    assert is_document_path(path) is read


def test_files_that_are_not_documents_are_ignored() -> None:
    files = {
        "web.yaml": container("web", 101, OST),
        "README.md": b"not: [yaml",
        ".github/workflows/ci.yml": b"on: push\n",
    }
    assert len(load_desired(files).containers) == 1


def test_an_empty_revision_is_an_empty_desired_state() -> None:
    assert load_desired({}) == DesiredState()
    assert load_desired({"empty.yaml": b"# nothing yet\n"}) == DesiredState()


def _example(name: str) -> dict[str, bytes]:
    root = EXAMPLES / name
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.yaml"))}


@pytest.mark.parametrize("name", ["groupware", "webfleet", "defaults"])
def test_every_example_validates(name: str) -> None:
    assert [p.render() for p in validate_files(_example(name))] == []


def test_the_groupware_example_is_the_founding_story() -> None:
    state = load_desired(_example("groupware"))
    web, db = state.containers
    assert (web.name, web.node, web.ctid, web.spec.state) == ("groupware", "office", 101, "running")
    assert web.spec.ip == ["192.168.10.101"] and web.spec.hostname == "groupware.lan"
    assert (web.spec.ram, web.spec.swap, web.spec.diskspace) == ("2G", "512M", "20G")
    assert (web.spec.cpus, web.spec.cpuunits, web.spec.cpulimit) == (2, 1000, 200)
    assert (db.name, db.ctid, db.spec.state) == ("groupware-db", 102, "running")


def test_the_defaults_example_relies_on_its_defaults() -> None:
    state = load_desired(_example("defaults"))
    runner = next(c for c in state.containers if c.name == "ci-runner")
    assert runner.spec.ostemplate == "debian-12.0-x86_64-minimal"
    assert (runner.spec.ram, runner.spec.cpus, runner.spec.swap) == ("1G", 1, "512M")
    assert runner.spec.nameserver == ["172.16.5.1", "172.16.5.2"]


@pytest.mark.parametrize(
    ("declared", "chosen", "expected"),
    [
        ((), None, "default"),
        ((), "hn9", "hn9"),
        (("office",), None, "office"),
        (("office",), "office", "office"),
        (("hn1", "hn2"), "hn2", "hn2"),
    ],
)
def test_the_node_a_command_works_on(
    declared: tuple[str, ...], chosen: str | None, expected: str
) -> None:
    files = {f"{n}.yaml": node(n) for n in declared}
    assert load_desired(files).choose_node(chosen) == expected


@pytest.mark.parametrize(
    ("declared", "chosen", "message"),
    [
        (("hn1", "hn2"), None, "several nodes .hn1, hn2.; pass --node NAME"),
        (("hn1",), "hn2", "node 'hn2' is not declared in the repository .declared: hn1."),
    ],
)
def test_an_unknown_or_missing_node_choice_is_refused(
    declared: tuple[str, ...], chosen: str | None, message: str
) -> None:
    files = {f"{n}.yaml": node(n) for n in declared}
    with pytest.raises(UsageError, match=message):
        load_desired(files).choose_node(chosen)
