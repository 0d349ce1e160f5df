"""Property: valid container specs dumped with PyYAML (all strings quoted) load back unchanged."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.spec.desired import DEFAULT_NODE, DesiredContainer, DesiredState, Origin
from reconciler.spec.load import load_desired
from reconciler.spec.models import CAPABILITIES, FEATURES, ContainerSpec

TEMPLATES = [
    "debian-12.0-x86_64-minimal",
    "debian-11.0-x86_64-minimal",
    "ubuntu-22.04-x86_64",
    "centos-7-x86_64",
    "centos-6-x86",
]
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_TEXT = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cf"),
        exclude_characters="\"'\\`$\x85",
    ),
    max_size=40,
)
# Sizes always carry a unit; RAM is at least 16M and disk space at least 128M (spec.sizes).
_SWAP = st.one_of(
    st.just(0),
    st.builds(
        lambda n, u: f"{n}{u}", st.integers(1, 4096), st.sampled_from(["K", "M", "G", "k", "m"])
    ),
    st.just("unlimited"),
)
_RAM = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", st.integers(16, 4096), st.sampled_from(["M", "m", "G"])),
    st.integers(4096, 1 << 28).map(lambda n: f"{n}P"),
    st.integers(16 << 20, 1 << 40).map(lambda n: f"{n}B"),
    st.just("unlimited"),
)
_DISK = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", st.integers(128, 4096), st.sampled_from(["M", "G", "g"])),
    st.integers(128 << 10, 1 << 30).map(lambda n: f"{n}K"),
    st.just("unlimited"),
)
_COUNT = st.one_of(
    st.integers(0, 100000),
    st.builds(lambda a, b: f"{a}:{a + b}", st.integers(0, 5000), st.integers(0, 5000)),
)


class QuotingDumper(yaml.SafeDumper):
    """safe_dump with every string double-quoted, so no string can read back as anything else."""


def _quoted(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')


QuotingDumper.add_representer(str, _quoted)


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


def _specs(ctid: int, octet: int) -> st.SearchStrategy[dict[str, Any]]:
    fixed = st.fixed_dictionaries(
        {"ctid": st.just(ctid), "ostemplate": st.sampled_from(TEMPLATES)},
    )
    optional = _optional(
        state=st.sampled_from(["running", "stopped", "absent"]),
        hostname=st.builds(".".join, st.lists(_LABEL, min_size=1, max_size=3)),
        ip=st.just([f"10.{octet // 250}.{octet % 250}.{1 + ctid % 250}"]),
        nameserver=st.lists(  # vzctl cannot empty the list, so [] is refused
            st.sampled_from(["192.168.10.1", "10.0.0.53", "fd00::53"]), min_size=1, max_size=2
        ),
        searchdomain=st.lists(_LABEL, min_size=1, max_size=2),
        netif=st.just(
            [
                {
                    "ifname": "eth0",
                    "mac": f"00:18:51:00:{octet // 256:02X}:{octet % 256:02X}",
                    "bridge": "br0",
                }
            ]
        ),
        ram=_RAM,
        swap=_SWAP,
        diskspace=_DISK,
        numproc=_COUNT,
        numfile=_COUNT,
        cpus=st.integers(1, 64),
        cpuunits=st.integers(8, 500000),
        cpulimit=st.integers(0, 6400),
        ioprio=st.integers(0, 7),
        onboot=st.booleans(),
        bootorder=st.integers(0, 1000),
        description=_TEXT,
        features=st.dictionaries(st.sampled_from(FEATURES), st.booleans(), max_size=3),
        capability=st.dictionaries(st.sampled_from(CAPABILITIES), st.booleans(), max_size=3),
        netfilter=st.sampled_from(["disabled", "stateless", "stateful", "full"]),
        devnodes=st.dictionaries(
            st.sampled_from(["net/tun", "fuse"]), st.sampled_from(["rw", "r", "none"])
        ),
        protect=st.booleans(),
    )
    return st.builds(lambda a, b: {**a, **b}, fixed, optional)


@st.composite
def _revisions(draw: st.DrawFn) -> list[dict[str, Any]]:
    ctids = draw(st.lists(st.integers(101, 2147483644), min_size=1, max_size=4, unique=True))
    return [draw(_specs(ctid, index)) for index, ctid in enumerate(ctids)]


def _document(index: int, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "vzgitops/v1",
        "kind": "Container",
        "metadata": {"name": f"ct-{index}"},
        "spec": spec,
    }


@settings(max_examples=150, deadline=None)
@given(_revisions())
def test_dumped_specs_load_back_to_the_same_desired_state(specs: list[dict[str, Any]]) -> None:
    text = yaml.dump_all(
        [_document(i, s) for i, s in enumerate(specs)], Dumper=QuotingDumper, explicit_start=True
    )
    starts = [n + 1 for n, line in enumerate(text.splitlines()) if line == "---"]
    expected = DesiredState(
        containers=tuple(
            sorted(
                (
                    DesiredContainer(
                        name=f"ct-{i}",
                        node=DEFAULT_NODE,
                        spec=ContainerSpec.model_validate(spec),
                        origin=Origin(path="fleet.yaml", line=starts[i]),
                    )
                    for i, spec in enumerate(specs)
                ),
                key=lambda c: c.ctid,
            )
        )
    )
    assert load_desired({"fleet.yaml": text.encode()}) == expected
