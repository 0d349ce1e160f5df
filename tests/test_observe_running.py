"""running_settings reads vzlist's objects exactly as the plainer version it replaced did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.fields import UBC_COUNTERS
from reconciler.node.observe import running_settings


def _limit(obj: Any, key: str = "limit") -> int | None:
    return obj.get(key) if isinstance(obj, dict) and isinstance(obj.get(key), int) else None


def reference(item: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("cpus", "cpulimit", "cpuunits"):
        if isinstance(item.get(name), int) and item[name] != 0:
            values[name] = item[name]
    for name, key in (("ram", "physpages"), ("swap", "swappages")):
        limit = _limit(item.get(key))
        if limit:
            values[name] = limit
    for name in ("diskspace", "diskinodes"):
        obj = item.get(name)
        soft, hard = _limit(obj, "softlimit"), _limit(obj, "hardlimit")
        if soft is not None and hard is not None and hard:
            values[name] = (soft, hard)
    for name in UBC_COUNTERS:
        barrier, limit = _limit(item.get(name), "barrier"), _limit(item.get(name))
        if barrier is not None and limit is not None and limit:
            values[name] = (barrier, limit)
    if isinstance(item.get("ip"), list):
        values["ip_addresses"] = tuple(sorted(str(ip).split("/")[0] for ip in item["ip"]))
    return values


SCALAR: st.SearchStrategy[Any] = st.sampled_from(
    [0, 1, 2, 2**63 - 1, -1, True, False, None, 1.5, "1", [], {}]
)
LIMITS = st.dictionaries(
    st.sampled_from(["held", "barrier", "limit", "softlimit", "hardlimit", "usage"]), SCALAR
)
NAMES = ["cpus", "cpulimit", "cpuunits", "physpages", "swappages", "diskspace", "diskinodes"]
ITEMS = st.dictionaries(
    st.sampled_from([*NAMES, *UBC_COUNTERS, "ip", "status"]),
    SCALAR | LIMITS | st.lists(st.sampled_from(["10.0.0.1", "10.0.0.2/24", "::1", 7])),
)


@settings(max_examples=2000, deadline=None)
@given(ITEMS)
def test_running_settings_matches_the_reference(item: dict[str, Any]) -> None:
    got = running_settings(item)
    assert got == reference(item)
    assert list(got) == list(reference(item))
    assert [type(v) for v in got.values()] == [type(v) for v in reference(item).values()]
