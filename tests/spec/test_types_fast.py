"""The shortcuts in spec.types and units give exactly what the general code gives (properties)."""

from __future__ import annotations

import ipaddress

from hypothesis import example, given
from hypothesis import strategies as st

from reconciler import units
from reconciler.spec.types import ip_address, ip_interface

_PART = st.one_of(
    st.integers(0, 300).map(str),
    st.integers(0, 99).map(lambda n: f"0{n}"),
    st.sampled_from(["", "00", "1e1", " 1", "+1", "0x1"]),
)
_IPV4ISH = st.lists(_PART, min_size=3, max_size=5).map(".".join)


def _general(value: str) -> str | None:
    """ip_address as it was before its dotted-quad shortcut: ipaddress for everything."""
    if "%" in value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _outcome(value: str) -> str | None:
    try:
        return ip_address(value)
    except ValueError:
        return None


@given(_IPV4ISH)
@example("0.0.0.0")
@example("255.255.255.255")
@example("01.2.3.4")
@example("1.2.3.04")
@example("256.1.1.1")
def test_an_address_reads_as_ipaddress_reads_it(value: str) -> None:
    assert _outcome(value) == _general(value)


@given(_IPV4ISH, st.one_of(st.none(), st.integers(0, 40)))
def test_an_interface_is_refused_or_canonical_as_before(address: str, prefix: int | None) -> None:
    value = address if prefix is None else f"{address}/{prefix}"
    try:
        got: str | None = ip_interface(value)
    except ValueError:
        got = None
    canonical = _general(address)
    if canonical is None or ipaddress.ip_address(canonical).is_unspecified:
        assert got is None
    elif prefix is None:
        assert got == canonical
    else:
        assert got == (str(ipaddress.ip_interface(value)) if prefix <= 32 else None)


@given(st.sampled_from(["512M", "2.5G", "10", "unlimited", "1P", "0", "7T", "bad"]))
def test_cached_sizes_equal_fresh_ones(text: str) -> None:
    fresh = units.to_bytes.__wrapped__
    for unit in ("B", "K"):
        try:
            expected: int | None = fresh(text, unit)
        except units.UnitError:
            expected = None
        for _ in range(2):
            try:
                assert units.to_bytes(text, unit) == expected
            except units.UnitError:
                assert expected is None
