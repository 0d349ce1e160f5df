"""Canonical forms: a spec value from git, or a CTID.conf value, as one comparable value (pure).

Each setting has two parsers here, one for what git says (`2G`) and one for what vzctl stored
(`PHYSPAGES="0:524288"`), both giving the same canonical value (`Canon`: immutable, so equal
settings compare equal however they were written). The field table in `reconciler.fields`
pairs them per row.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from reconciler import units
from reconciler.spec.types import CPUMASK_BITS, cpu_bits, devperm

Canon = Any
VSWAP_UNLIMITED = -(-units.LONG_MAX // units.PAGE)  # 2^51: LONG_MAX bytes in whole pages
_DIGITS = re.compile(r"[0-9]+")
NETIF_KEYS = ("mac", "host_ifname", "host_mac", "bridge")
NetIfCanon = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def _text(value: Any, _ctid: int = 0) -> str:
    return str(value)


def _lower(value: Any, _ctid: int = 0) -> str:
    return str(value).lower()


def _int(value: Any, _ctid: int = 0) -> int:
    return int(value)


def _conf_int(value: str, _ctid: int = 0) -> int:
    """A number as vzctl writes it (`%lu`, `%d`): exact, so LONG_MAX is not rounded to 2^63."""
    text = value.strip()
    if text.lower() == "unlimited":
        return units.LONG_MAX
    if _DIGITS.fullmatch(text):
        return int(text)
    return int(float(text)) if text else 0


def _bool(value: Any, _ctid: int = 0) -> bool:
    return bool(value)


def _conf_bool(value: str, _ctid: int = 0) -> bool:
    return value.strip().lower() == "yes"


def _canon_ip(text: str) -> str:
    try:
        if "/" in text:
            return str(ipaddress.ip_interface(text))
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _ips(value: Any, _ctid: int = 0) -> tuple[str, ...]:
    return tuple(sorted(_canon_ip(str(v)) for v in value))


_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")  # as _canon_ip would write it


def _conf_ips(value: str, _ctid: int = 0) -> tuple[str, ...]:
    """A fleet's configs hold one address each: the usual spelling skips the ipaddress parse."""
    words = value.split()
    return tuple(sorted(v if _CANONICAL_IPV4.fullmatch(v) else _canon_ip(v) for v in words))


def _words(value: Any, _ctid: int = 0) -> tuple[str, ...]:
    """In order, each once: vzctl's add_str2list drops a repeat of an entry (lists are lowered
    by validation first, so `[A.lan, a.lan]` reaches vzctl as one entry)."""
    return tuple(dict.fromkeys(str(v).lower() for v in value))


def _conf_words(value: str, _ctid: int = 0) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.lower() for v in value.split()))


def _cpumask(value: Any, _ctid: int = 0) -> str:
    """A mask as vzctl stores it (conf_store_bitmap): `all`, or sorted ranges `0-2,7`."""
    bits = cpu_bits(str(value).strip())
    if bits is None:
        return str(value)
    if len(bits) == CPUMASK_BITS:
        return "all"
    return ",".join(_ranges(sorted(bits)))


def _ranges(bits: list[int]) -> list[str]:
    runs: list[list[int]] = []
    for bit in bits:
        if runs and runs[-1][1] == bit - 1:
            runs[-1][1] = bit
        else:
            runs.append([bit, bit])
    return [str(a) if a == b else f"{a}-{b}" for a, b in runs]


def _pages(value: Any, _ctid: int = 0) -> int:
    return pages_canon(units.to_pages(str(value)))


def pages_canon(pages: int) -> int:
    """`--ram unlimited` is stored as LONG_MAX bytes rounded up to pages, 2^51 (vzctl's
    parse_vswap); a PHYSPAGES written `unlimited` is LONG_MAX pages: both are unlimited."""
    return units.LONG_MAX if pages >= VSWAP_UNLIMITED else pages


def _conf_pages(value: str, _ctid: int = 0) -> int:
    """PHYSPAGES="0:256M" or "0:65536": the limit, bare numbers already in pages."""
    limit = value.split(":")[-1].strip()
    if limit.isdigit():
        return pages_canon(int(limit))
    return pages_canon(units.to_pages(limit))


def _disk(value: Any, _ctid: int = 0) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    soft, hard = units.pair(str(value))
    return units.to_kib(soft), units.to_kib(hard)


def _conf_disk(value: str, _ctid: int = 0) -> tuple[int, int]:
    """DISKSPACE="soft:hard", as vzctl writes it (`%lu:%lu` KiB, LONG_MAX for unlimited)."""
    soft, hard = units.pair(value.strip())
    return _conf_kib(soft), _conf_kib(hard)


def _conf_kib(text: str) -> int:
    return int(text) if _DIGITS.fullmatch(text) else units.to_kib(text)


def _items(value: Any, _ctid: int = 0) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    soft, hard = units.pair(str(value))
    return units.to_items(soft), units.to_items(hard)


def _conf_items(value: str, _ctid: int = 0) -> tuple[int, int]:
    soft, hard = units.pair(value.strip())
    return _conf_int(soft), _conf_int(hard)


def _rate(value: Any, _ctid: int = 0) -> int:
    """Bytes/s; `unlimited` is vzctl's 0 (no limit): IOLIMIT stores no LONG_MAX."""
    rate = value if isinstance(value, int) else units.to_bytes(str(value))
    return 0 if rate == units.LONG_MAX else rate


def _flags(value: Any, _ctid: int = 0) -> tuple[tuple[str, bool], ...]:
    return tuple(sorted((str(k).lower(), bool(v)) for k, v in dict(value).items()))


def _conf_flags(value: str, _ctid: int = 0) -> tuple[tuple[str, bool], ...]:
    pairs: dict[str, bool] = {}
    for item in value.replace(",", " ").split():
        name, _, state = item.partition(":")
        pairs[name.lower()] = state.lower() == "on"
    return tuple(sorted(pairs.items()))


def _perms(value: Any, _ctid: int = 0) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), devperm(str(v))) for k, v in dict(value).items()))


def _conf_perms(value: str, _ctid: int = 0) -> tuple[tuple[str, str], ...]:
    pairs = {}
    for item in value.split():
        name, _, perm = item.rpartition(":")
        if name:
            pairs[name] = devperm(perm) or "none"  # vzctl reads an empty mask as none
    return tuple(sorted(pairs.items()))


def _netifs(value: Any, _ctid: int = 0) -> NetIfCanon:
    result = []
    for netif in value:
        data = netif if isinstance(netif, Mapping) else netif.model_dump()
        attrs = tuple(
            (key, str(data[key]).upper() if key.endswith("mac") else str(data[key]))
            for key in NETIF_KEYS
            if data.get(key) is not None
        )
        result.append((str(data["ifname"]), attrs))
    return tuple(sorted(result))


def _conf_netifs(value: str, _ctid: int = 0) -> NetIfCanon:
    result = []
    for chunk in value.split(";"):
        fields = dict(part.partition("=")[::2] for part in chunk.split(",") if "=" in part)
        if "ifname" not in fields:
            continue
        attrs = tuple(
            (key, fields[key].upper() if key.endswith("mac") else fields[key])
            for key in NETIF_KEYS
            if fields.get(key)
        )
        result.append((fields["ifname"], attrs))
    return tuple(sorted(result))
