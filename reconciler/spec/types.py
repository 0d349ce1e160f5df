"""Validated value types of the desired state (pure).

Each type checks a value before it can reach vzctl or a config file: no quote, backslash or
control character in any string (vzlist prints strings into JSON unescaped, and some nodes pass
values to a shell), RFC 1123 host names, addresses parsed with `ipaddress`, sizes in vzctl's units.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from reconciler import units

CTID_MIN = 101
CTID_MAX = 2147483644
_FORBIDDEN = re.compile(r"[\"'\\`$\x00-\x1f\x7f]")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_OSTEMPLATE = re.compile(
    r"^[a-z][a-z0-9_]*-[0-9][0-9a-z._]*-(?:x86|x86_64)(?:-[a-z0-9][a-z0-9._]*)*$"
)
_SAMPLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_CPUMASK = re.compile(r"^(?:all|\d{1,4}(?:-\d{1,4})?(?:,\d{1,4}(?:-\d{1,4})?)*)$")
_IFNAME = re.compile(r"^[a-z][a-z0-9_.-]{0,14}$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")
_DEVNODE = re.compile(r"^[a-z][a-z0-9_]*(?:/[a-z0-9][a-z0-9_]*)*$")
_DEVPERM = re.compile(r"^(?:none|[rwq]{1,3})$")
_DECIMAL_INT = re.compile(r"^[+-]?(?:0|[1-9][0-9]*)$")


def safe_text(value: str) -> str:
    """Reject characters that break vzlist's JSON or a shell: quotes, backslash, `$`, controls."""
    bad = _FORBIDDEN.search(value)
    if bad:
        raise ValueError(
            f"character {bad.group()!r} is not allowed (quotes, backslash, backquote, $ and control characters never reach vzctl)"
        )
    return value


def strict_int(value: Any) -> Any:
    """Integers only from YAML integers; a string such as `0101` is refused, never guessed."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got a boolean")
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?0[0-9]+", text):
            raise ValueError(
                f"{value!r}: a leading zero is ambiguous (YAML 1.1 reads it as octal); write the number without it"
            )
        if _DECIMAL_INT.fullmatch(text):
            raise ValueError(f"{value!r} is quoted; write the number without quotes")
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, float):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def yes_no_bool(value: Any) -> Any:
    """Booleans: true/false, or vzctl's own yes/no; anything else is an error, not a guess."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("yes", "no"):
        return value.lower() == "yes"
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def hostname(value: str) -> str:
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not an RFC 1123 host name")
    return value.lower()


def ip_interface(value: str) -> str:
    """`192.168.1.5` or `192.168.1.5/24` (IPv4 or IPv6), returned in canonical spelling."""
    safe_text(value)
    try:
        if "/" in value:
            return str(ipaddress.ip_interface(value))
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address (optionally with /prefix)") from exc


def ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address") from exc


def ostemplate(value: str) -> str:
    if not _OSTEMPLATE.match(value) or ".." in value:
        raise ValueError(
            f"{value!r} is not an OS template name of the form distro-version-arch[-flavour], e.g. debian-12.0-x86_64-minimal"
        )
    return value


def pattern(regex: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return check


def size(parse: Any) -> Any:
    """A size checked with `parse` (units.to_pages, to_kib, to_items, to_bytes)."""

    def check(value: str | int) -> str | int:
        if isinstance(value, bool):
            raise ValueError("expected a size, got a boolean")
        if isinstance(value, int):
            if value < 0:
                raise ValueError("a size cannot be negative")
            return value
        safe_text(value)
        try:
            parse(value)
        except units.UnitError as exc:
            raise ValueError(str(exc)) from exc
        return value

    return check


def soft_hard(parse: Any) -> Any:
    """`value` or `soft:hard`, each part checked with `parse`; soft must not exceed hard."""

    def check(value: str | int) -> str | int:
        if isinstance(value, bool):
            raise ValueError("expected a value or soft:hard, got a boolean")
        if isinstance(value, int):
            if value < 0:
                raise ValueError("cannot be negative")
            return value
        safe_text(value)
        try:
            soft, hard = units.pair(value)
            if parse(soft) > parse(hard):
                raise ValueError(f"{value!r}: the soft limit is above the hard limit")
        except units.UnitError as exc:
            raise ValueError(str(exc)) from exc
        return value

    return check


def _ranged(low: int, high: int) -> Any:
    return Field(ge=low, le=high)


StrictInt = Annotated[int, BeforeValidator(strict_int)]
YesNo = Annotated[bool, BeforeValidator(yes_no_bool)]
SafeStr = Annotated[str, AfterValidator(safe_text)]
CtId = Annotated[int, BeforeValidator(strict_int), Field(ge=CTID_MIN, le=CTID_MAX)]
Hostname = Annotated[str, AfterValidator(safe_text), AfterValidator(hostname)]
IpInterface = Annotated[str, AfterValidator(ip_interface)]
IpAddress = Annotated[str, AfterValidator(safe_text), AfterValidator(ip_address)]
OsTemplate = Annotated[str, AfterValidator(safe_text), AfterValidator(ostemplate)]
SampleName = Annotated[
    str, AfterValidator(safe_text), AfterValidator(pattern(_SAMPLE, "config sample name"))
]
ObjectName = Annotated[
    str,
    AfterValidator(safe_text),
    AfterValidator(pattern(_NAME, "name (letters, digits, . _ + -)")),
]
CpuMask = Annotated[
    str,
    AfterValidator(safe_text),
    AfterValidator(pattern(_CPUMASK, "CPU mask (e.g. 0-3,7 or all)")),
]
IfName = Annotated[
    str, AfterValidator(safe_text), AfterValidator(pattern(_IFNAME, "interface name"))
]
Mac = Annotated[
    str, AfterValidator(safe_text), AfterValidator(pattern(_MAC, "MAC address (00:18:51:AA:BB:CC)"))
]
DevNode = Annotated[
    str,
    AfterValidator(safe_text),
    AfterValidator(pattern(_DEVNODE, "device node name (e.g. net/tun)")),
]
DevPerm = Annotated[str, AfterValidator(pattern(_DEVPERM, "device permission (r, w, q or none)"))]
MemorySize = Annotated[str | int, AfterValidator(size(units.to_pages))]
ByteRate = Annotated[str | int, AfterValidator(size(units.to_bytes))]
DiskSize = Annotated[str | int, AfterValidator(soft_hard(units.to_kib))]
ItemCount = Annotated[str | int, AfterValidator(soft_hard(units.to_items))]
