"""What validates converges (issue 17), on the simulated node with real vzctl/vzlist processes.

The property: for generated values of every container field, a value the loader accepts is one
vzctl accepts and stores so that the next plan is empty; a value the loader refuses is refused
with a message naming that field. Each hypothesis example is one repository of several
containers, each setting every field it drew, applied in one `vzgitops apply` on a fresh node and
then changed to a second draw in another, so that a few dozen values per field stay well within
a minute on a small machine (set VZGITOPS_CONVERGE_EXAMPLES for a longer hunt; CI derandomizes).
The node is drawn too: its vz.conf's VE_LAYOUT (the layout of a container that leaves it unset)
and whether its kernel has ploop; what it cannot create is held by pre-flight, naming the field.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from reconciler.spec.load import validate_files
from reconciler.spec.models import CAPABILITIES, ContainerSpec
from reconciler.spec.windows import WEEKDAYS
from tests.conftest import make_sim_node
from tests.support import GitRepo, container_doc, vzgitops
from vzsim.hardware import Hardware
from vzsim.nodeinit import DEFAULT_TEMPLATES
from vzsim.setparams import FEATURES

# every value that validates (cpus up to 4096, cpumask to CPU 4095, terabytes, ploop) must fit:
# the node is as large as vzctl allows and has ploop, so pre-flight holds nothing and convergence
# is what is tested
BIG = Hardware(cpus=4096, ram=1 << 62, swap=1 << 62, disk=1 << 62, ploop=True)
MAX = 9223372036854775807
INT_MAX = 2147483647
BASE: dict[str, Any] = {"config": "vswap-256m"}
CONTAINERS = 5
# the node: its VE_LAYOUT (what a container leaving layout unset gets), and whether it has ploop
NODES = {
    "simfs": ("simfs", BIG),
    "ploop": ("ploop", BIG),
    "no ploop": ("ploop", replace(BIG, ploop=False)),
}


def _count() -> st.SearchStrategy[Any]:
    one = st.one_of(
        st.sampled_from([0, 1, 65536, INT_MAX, MAX, MAX + 1, -1]),
        st.integers(0, 1 << 40),
        st.just("unlimited"),
    )
    pair = st.tuples(one, one).map(lambda p: f"{p[0]}:{p[1]}")
    return st.one_of(one, pair)


def _mask() -> st.SearchStrategy[str]:
    cpu = st.one_of(st.integers(0, 7), st.sampled_from([4095, 4096]))
    part = st.one_of(cpu.map(str), st.tuples(cpu, cpu).map(lambda r: f"{r[0]}-{r[1]}"))
    return st.one_of(st.just("all"), st.lists(part, min_size=1, max_size=3).map(",".join))


_DOMAINS = ["a.lan", "A.lan", "b.example", "B.EXAMPLE", "c"]
_RESOLVERS = ["10.0.0.1", "10.0.0.2", "8.8.8.8", "2001:db8::1", "2001:DB8:0::1"]
_SIZES = ["16M", "15M", "256M", "1G", "2.5G", "100.3M", "4096P", "1g", "unlimited", "0.5"]
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "hostname": st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,8}[a-z0-9](\.[a-z]{1,5})?", fullmatch=True),
    "nameserver": st.lists(st.sampled_from(_RESOLVERS), max_size=4),
    "searchdomain": st.lists(st.sampled_from(_DOMAINS), max_size=4),
    "ram": st.one_of(st.sampled_from(_SIZES), st.integers(16, 4096).map(lambda n: f"{n}M")),
    "swap": st.sampled_from([0, "0M", "1B", "0.5K", "512M", "2G", "unlimited", "7"]),
    "diskspace": st.sampled_from(
        ["128M", "127M", "10.3G:10.7G", "2G:1G", "unlimited", "1G:unlimited", "3T", "20G:22G"]
    ),
    "diskinodes": _count(),
    "quotaugidlimit": st.sampled_from([0, 1, 100, INT_MAX, MAX, MAX + 1]),
    "cpus": st.one_of(st.sampled_from([0, 1, 4096, 4097]), st.integers(1, 64)),
    "cpuunits": st.one_of(st.sampled_from([7, 8, 500000, 500001]), st.integers(8, 500000)),
    "cpulimit": st.one_of(st.sampled_from([0, 409600, 409601]), st.integers(0, 409600)),
    "cpumask": _mask(),
    "ioprio": st.integers(-1, 8),
    "iolimit": st.sampled_from(["0", 0, "unlimited", "1.5M", "2147483647B", "2G", "10M", "512K"]),
    "iopslimit": st.one_of(st.sampled_from([0, INT_MAX, INT_MAX + 1, MAX]), st.integers(0, 10**6)),
    **{
        name: _count()
        for name in ("numproc", "numtcpsock", "numothersock", "numfile", "numflock", "numpty")
    },
    "numsiginfo": _count(),
    "numiptent": _count(),
    "onboot": st.booleans(),
    "bootorder": st.sampled_from([0, 1, 100, INT_MAX, INT_MAX + 1]),
    "disabled": st.booleans(),
    "description": st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
    "layout": st.sampled_from(["simfs", "ploop"]),
    "features": st.dictionaries(st.sampled_from(FEATURES), st.booleans(), max_size=3),
    "capability": st.dictionaries(  # vzctl 4.x's cap_names has no setveid, audit_control
        st.sampled_from([*CAPABILITIES, "setveid", "audit_control"]), st.booleans(), max_size=3
    ),
    "netfilter": st.sampled_from(["disabled", "stateless", "stateful", "full"]),
    "devnodes": st.dictionaries(
        st.sampled_from(["net/tun", "fuse", "sdb"]), st.sampled_from(["r", "rw", "rwq", "none"])
    ),
    "state": st.sampled_from(["running", "stopped", "absent"]),
    "config": st.sampled_from(["vswap-256m", "vswap-1g", "basic", "light"]),
    "ostemplate": st.sampled_from([*DEFAULT_TEMPLATES, "Debian-12-x86_64", "debian..12-x86"]),
    "restart": st.sampled_from(["auto", "never"]),
    "allowRecreate": st.booleans(),
    "protect": st.booleans(),
    "migrate": st.sampled_from(["offline", "online", "recreate"]),  # moves only: no vzctl value
    "backup": st.fixed_dictionaries(  # scheduled by the controller: no vzctl value either
        {"schedule": st.sampled_from(["6h", "30 2 * * *"]), "mode": st.just("stop")}
    ),
    # a restore needs an archive of the container: its round trip is tests/test_e2e_restore.py
    "restoreFrom": st.none(),
    "maintenance": st.lists(
        st.fixed_dictionaries(
            {
                "start": st.sampled_from(["00:00", "23:59"]),
                "duration": st.sampled_from(["1d", "1m"]),
            },
            optional={"days": st.lists(st.sampled_from(WEEKDAYS), max_size=2)},
        ),
        max_size=2,
    ),
}
# Set on the created container and kept by the change: changing them is a recreate
KEPT = ("config", "ostemplate", "layout")
ADDRESSES = ("ip", "netif")  # drawn by _addresses, unique to each container
KEY = ("ctid",)  # the document's own


def _addresses(ctid: int) -> st.SearchStrategy[dict[str, Any]]:
    """Addresses unique to each container (a repeat across documents is its own problem)."""
    v4 = st.tuples(st.integers(1, 250), st.booleans()).map(
        lambda a: f"10.{ctid - 200}.0.{a[0]}" + ("/24" if a[1] else "")
    )
    v6 = st.tuples(st.integers(1, 0xFFFF), st.booleans()).map(
        lambda a: f"FD00:0::{ctid:x}:{a[0]:x}" + ("/64" if a[1] else "")
    )
    ip = st.lists(st.one_of(v4, v6), max_size=3, unique_by=lambda text: text.split("/")[0])
    netif = st.lists(
        st.builds(
            lambda name, host, own_mac: {
                "ifname": name,
                "mac": f"00:18:51:00:{ctid - 200:02X}:{name[-1]}a",
                **({"host_ifname": f"veth{ctid}.{name[-1]}x"} if host else {}),
                **({"host_mac": f"00:18:51:01:{ctid - 200:02X}:{name[-1]}B"} if own_mac else {}),
            },
            st.sampled_from(["eth0", "eth1"]),
            st.booleans(),
            st.booleans(),
        ),
        max_size=2,
        unique_by=lambda n: n["ifname"],
    )
    return st.fixed_dictionaries({}, optional={"ip": ip, "netif": netif})


@st.composite
def _spec(draw: st.DrawFn, ctid: int) -> dict[str, Any]:
    drawn = draw(st.fixed_dictionaries({}, optional=FIELDS))
    return {**BASE, **drawn, **draw(_addresses(ctid))}


def _problems(ctid: int, spec: dict[str, Any]) -> list[str]:
    files = {"ct.yaml": container_doc(f"ct{ctid}", ctid, **spec).encode()}
    return [p.field for p in validate_files(files)]


def _accepted(ctid: int, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec without the fields it is refused for; each problem names a field it set."""
    kept = dict(spec)
    for _ in range(len(spec)):
        fields = _problems(ctid, kept)
        if not fields:
            return kept
        for field in fields:
            name = field.split(".")[1] if field.startswith("spec.") else field
            assert name in spec, f"a problem names {field}, which the spec {spec} does not set"
            kept.pop(name, None)  # two problems may name one field (capability.a, capability.b)
    raise AssertionError(f"still refused: {_problems(ctid, kept)}")


def _node(root: Path, kind: str = "simfs") -> tuple[dict[str, str], GitRepo]:
    ve_layout, machine = NODES[kind]
    node = make_sim_node(root / "node", machine=machine)
    vz_conf = node.dir / "vz.conf"
    vz_conf.write_text(vz_conf.read_text().replace('VE_LAYOUT="simfs"', f"VE_LAYOUT={ve_layout}"))
    return {**node.env, "VZGITOPS_STATE_DIR": str(root / "state")}, GitRepo(root / "repo")


def _converges(
    env: dict[str, str], repo: GitRepo, specs: dict[int, dict[str, Any]], kind: str = "simfs"
) -> None:
    """Apply `specs` (replacing what the repository had) and plan again: nothing to do."""
    for ctid, spec in specs.items():
        repo.write(f"ct{ctid}.yaml", container_doc(f"ct{ctid}", ctid, **spec))
    repo.commit("generated values")
    applied = vzgitops(["apply", "--repo", str(repo.path), *PRUNE, "--yes"], env, timeout=300)
    shown = yaml.safe_dump(specs) + applied.stdout + applied.stderr
    assert applied.returncode in (0, 4), shown  # 4: held changes remain (checked below)
    planned = vzgitops(["plan", "--repo", str(repo.path), *PRUNE, "--format", "json"], env)
    shown = yaml.safe_dump(specs) + planned.stdout + planned.stderr
    assert planned.returncode == 0, shown
    [section] = json.loads(planned.stdout)["nodes"]
    assert section["changes"] == [], shown
    assert all(_asked_for(held, specs[held["ctid"]], kind) for held in section["held"]), shown
    assert (applied.returncode == 4) == bool(section["held"]), shown


def _asked_for(held: dict[str, Any], spec: dict[str, Any], node: str) -> bool:
    """A change held because the spec says so, with a reason naming what to change."""
    reason, kind = held["reason"], held["kind"]
    if kind == "preflight":
        return _ploop_refused(reason, spec, node)
    if kind == "conflict":  # git leaving `disabled` unset keeps an earlier DISABLED=yes
        wanted_running = spec.get("state", "running") == "running"
        return "disabled" not in spec and wanted_running and "disabled" in reason
    if kind == "pending-restart":
        return spec.get("restart") == "never" and "restart: auto" in reason
    if kind == "window":
        return bool(spec.get("maintenance")) and "maintenance window" in reason
    if kind == "destroy-held":
        return spec.get("state") == "absent" and spec.get("protect") is True and "protect" in reason
    return False


def _ploop_refused(reason: str, spec: dict[str, Any], node: str) -> bool:
    """Pre-flight holds only what the drawn node cannot make: ploop on a node without it, or a
    ploop image (by the node's VE_LAYOUT=ploop) past its 16T."""
    layout = spec.get("layout") or NODES[node][0]
    if node == "no ploop":
        return (
            layout == "ploop" and reason.startswith("layout: ") and "spec.layout: simfs" in reason
        )
    sized = reason.startswith(("diskspace: ", "diskinodes: ")) and "ploop" in reason
    return node == "ploop" and "layout" not in spec and sized


PRUNE = ("--prune", "--allow-mass-destroy")  # state: absent destroys


def _literals(annotation: Any) -> set[Any]:
    """The values of a `Literal[...]` field (or `Literal[...] | None`)."""
    if get_origin(annotation) is Literal:
        return set(get_args(annotation))
    if get_origin(annotation) in (Union, UnionType):
        return {v for arg in get_args(annotation) for v in _literals(arg)}
    return set()


def test_every_container_field_is_drawn_by_the_property() -> None:
    """A new ContainerSpec field without a generator fails here, so convergence covers it."""
    assert set(ContainerSpec.model_fields) == {*FIELDS, *ADDRESSES, *KEY}


def test_every_value_of_a_field_of_few_values_is_drawn() -> None:
    """layout: ploop, state: absent, restart: never...: each value a Literal allows."""
    for name, info in ContainerSpec.model_fields.items():
        allowed = _literals(info.annotation)
        if allowed:
            drawn = getattr(FIELDS[name], "elements", ())
            assert allowed <= set(drawn), (name, allowed - set(drawn))


def _keep(first: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in spec.items() if k not in KEPT},
        **{k: first[k] for k in KEPT if k in first},
    }


@settings(
    max_examples=int(os.environ.get("VZGITOPS_CONVERGE_EXAMPLES", "8")),
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking re-applies for minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.tuples(*(_spec(200 + i) for i in range(CONTAINERS))),
    st.tuples(*(_spec(200 + i) for i in range(CONTAINERS))),
    st.sampled_from(["simfs", "simfs", "ploop", "no ploop"]),
)
def test_every_value_that_validates_converges_and_every_refusal_names_its_field(
    created: tuple[dict[str, Any], ...], changed: tuple[dict[str, Any], ...], node: str
) -> None:
    """Created with one set of values, then changed to another: both times the plan empties.
    The sample config, OS template and layout stay (changing one is a recreate)."""
    kept = tuple(_keep(first, spec) for first, spec in zip(created, changed, strict=True))
    event(f"node: {node}")  # --hypothesis-show-statistics shows how often each was drawn
    with tempfile.TemporaryDirectory() as tmp:
        env, repo = _node(Path(tmp), node)
        for specs in (created, kept):
            accepted = {200 + i: _accepted(200 + i, s) for i, s in enumerate(specs)}
            _converges(env, repo, accepted, node)


ISSUE_VALUES: list[tuple[str, Any]] = [
    ("ram", "unlimited"),
    ("swap", "unlimited"),
    ("diskspace", "unlimited"),
    ("diskspace", "1G:unlimited"),
    ("quotaugidlimit", MAX),
    ("cpumask", "0-4095"),
    ("cpumask", "1,0"),
    ("cpumask", "0-0"),
    ("nameserver", ["10.0.0.1", "10.0.0.1"]),
    ("searchdomain", ["A.lan", "a.lan"]),
    ("diskinodes", "unlimited"),
    ("diskinodes", "5:unlimited"),
    ("iolimit", "unlimited"),
    ("iopslimit", INT_MAX),
]


def test_the_edge_values_of_issue_17_apply_and_plan_empty() -> None:
    specs = {300 + i: {**BASE, field: value} for i, (field, value) in enumerate(ISSUE_VALUES)}
    assert all(_problems(ctid, spec) == [] for ctid, spec in specs.items())
    with tempfile.TemporaryDirectory() as tmp:
        _converges(*_node(Path(tmp)), specs)
