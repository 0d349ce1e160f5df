"""saved_settings: a shared memo and the IPv4 shortcut change no value, only the work done."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import units
from reconciler.fields import BY_NAME, FIELDS, NAME_FIELD, SavedMemo, saved_settings
from reconciler.fields.canon import _CANONICAL_IPV4, _canon_ip, _conf_ips


def reference(conf: dict[str, str]) -> dict[str, Any]:
    """Every field's parser called on its own text, in field order (no memo, no shortcut)."""
    values: dict[str, Any] = {}
    for field in (*FIELDS, NAME_FIELD):
        if field.key in conf:
            raw = conf[field.key]
            try:
                values[field.name] = (
                    tuple(sorted(_canon_ip(v) for v in raw.split()))
                    if field.name == "ip"
                    else field.observed(raw, 0)
                )
            except (ValueError, units.UnitError):
                values[field.name] = ("unparsable", raw)
    return values


IPV4ISH = st.lists(st.sampled_from("0123456789."), min_size=7, max_size=16).map("".join)
QUADS = st.tuples(*[st.integers(0, 255)] * 4).map(lambda q: ".".join(map(str, q)))


@settings(max_examples=2000, deadline=None)
@given(IPV4ISH | QUADS)
def test_the_ipv4_shortcut_takes_only_what_ipaddress_writes_back_unchanged(text: str) -> None:
    if _CANONICAL_IPV4.fullmatch(text):
        assert _canon_ip(text) == text


@given(QUADS)
def test_every_usual_address_takes_the_shortcut(text: str) -> None:
    assert _CANONICAL_IPV4.fullmatch(text)


WORDS = [
    "10.1.1.1",
    "10.1.1.01",
    "192.168.10.101/24",
    "2001:db8::0001",
    "256.1.1.1",
    "\u0661.1.1.1",
]


@given(st.lists(st.sampled_from([*WORDS, " ", "\t"]) | IPV4ISH, max_size=5).map(" ".join))
def test_conf_ips_is_the_canonical_sorted_addresses(value: str) -> None:
    assert _conf_ips(value) == tuple(sorted(_canon_ip(v) for v in value.split()))


CONFS = [
    {"NAME": "web", "IP_ADDRESS": "10.0.0.1 10.0.0.02", "PHYSPAGES": "0:2G", "CPUS": "2"},
    {"NAME": "db", "IP_ADDRESS": "10.0.0.1", "PHYSPAGES": "0:2G", "CPUS": "x", "OTHER": "1"},
    {"CPUS": "x", "DISKSPACE": "1G:2G", "FEATURES": "nfs:on", "NAME": "web", "ONBOOT": "yes"},
    {"DISKSPACE": "bad", "NETIF": "ifname=eth0,mac=aa:bb", "DEVNODES": "sda:rw", "ONBOOT": "no"},
    {},
]


def test_a_shared_memo_gives_each_config_its_own_values_in_field_order() -> None:
    seen: SavedMemo = defaultdict(dict)
    for ctid, conf in enumerate(CONFS * 2, start=101):
        values = saved_settings(conf, ctid, seen)
        assert values == reference(conf) == saved_settings(conf, ctid)
        assert list(values) == list(reference(conf))
    assert seen["CPUS"] == {"2": 2, "x": ("unparsable", "x")}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from([f.key for f in BY_NAME.values()] + ["OTHER"]),
            st.sampled_from(["1", "2G", "0:2G", "yes", "x", "10.0.0.1", "a:on", "", "1:2"]),
        ),
        max_size=6,
    )
)
def test_any_configs_read_with_one_memo_as_each_read_alone(confs: list[dict[str, str]]) -> None:
    seen: SavedMemo = defaultdict(dict)
    for ctid, conf in enumerate(confs, start=101):
        values = saved_settings(conf, ctid, seen)
        assert values == reference(conf)
        assert list(values) == list(reference(conf))
