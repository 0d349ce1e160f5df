"""Validated value types of the desired state (pure).

Each type checks a value before it can reach vzctl or a config file: no quote, backslash or
control character in any string (vzlist prints strings into JSON unescaped, and some nodes pass
values to a shell), RFC 1123 host names, addresses parsed with `ipaddress`, sizes with their unit
(`spec.sizes`).
Each type also carries the JSON Schema fragment that `spec.schema` builds for `schemas/`, as close
to the check as JSON Schema can say it, so an editor flags the same values the loader refuses.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from reconciler import units
from reconciler.spec import sizes

CTID_MIN = 101
CPUMASK_BITS = 4096  # vzctl's CPUMASK_NBITS
INT_MAX = 2147483647
CTID_MAX = 2147483644
# C1 controls, line/paragraph separators and bidi overrides are controls too: they break lines
# or hide text in some readers of the config file, the report, or a terminal.
_FORBIDDEN_CLASS = r"\"'\\`$\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_FORBIDDEN = re.compile(f"[{_FORBIDDEN_CLASS}]")
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
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_DECIMAL_INT = re.compile(r"^[+-]?(?:0|[1-9][0-9]*)$")
_COUNT = r"[0-9]+|[Uu][Nn][Ll][Ii][Mm][Ii][Tt][Ee][Dd]"


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
    if len(value) > 253 or not _HOSTNAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an RFC 1123 host name")
    return value.lower()


def ip_interface(value: str) -> str:
    """`192.168.1.5` or `192.168.1.5/24` (IPv4 or IPv6), returned in canonical spelling."""
    safe_text(value)
    address, slash, prefix = value.partition("/")
    canonical = ip_address(address)
    if _is_unspecified(canonical):
        raise ValueError(
            f"{value!r}: vzctl ignores the unspecified address, so it can never be applied"
        )
    if not slash:
        return canonical
    try:
        return str(ipaddress.ip_interface(value))
    except ValueError as exc:
        raise ValueError(f"{value!r}: /{prefix} is not a valid prefix for this address") from exc


def ip_address(value: str) -> str:
    """One address, without /prefix; a %zone is refused (it would carry any text to vzctl)."""
    if _CANONICAL_IPV4.fullmatch(value):
        return value  # exactly what ipaddress would print for it, without parsing it twice
    if "%" in value:
        raise ValueError(f"{value!r}: a %zone is not allowed in an address for a container")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address") from exc


def _is_unspecified(canonical: str) -> bool:
    if _CANONICAL_IPV4.fullmatch(canonical):
        return canonical == "0.0.0.0"  # noqa: S104 - compared with, not bound to
    return ipaddress.ip_address(canonical).is_unspecified


def cpu_bits(text: str) -> frozenset[int] | None:
    """The CPUs of a mask `0-3,7` or `all`, as vzctl's bitmap_parse reads it; None if invalid."""
    if text == "all":
        return frozenset(range(CPUMASK_BITS))
    bits: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        first, last = int(low), int(high) if dash else int(low)
        if first > last or last >= CPUMASK_BITS:
            return None
        bits.update(range(first, last + 1))
    return frozenset(bits)


def cpumask(value: str) -> str:
    """A mask vzctl's bitmap_parse takes: each range low-high, every CPU below 4096."""
    if not _CPUMASK.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a CPU mask; write CPUs and ranges such as 0-3,7, or all"
        )
    for part in value.split(",") if value != "all" else ():
        low, _, high = part.partition("-")
        if high and int(low) > int(high):
            raise ValueError(
                f"{value!r}: the range {part} goes down, which vzctl refuses; write {high}-{low}"
            )
        if int(high or low) >= CPUMASK_BITS:
            raise ValueError(
                f"{value!r}: CPU {int(high or low)} is beyond vzctl's mask of {CPUMASK_BITS} CPUs (0-{CPUMASK_BITS - 1}); write CPUs the node has, or all"
            )
    return value


def c_int(value: int) -> int:
    """vzctl reads --iopslimit with parse_int: a C int."""
    if value > INT_MAX:
        raise ValueError(
            f"{value} is more than vzctl takes here ({INT_MAX}, a C int); write at most {INT_MAX}, or 0 for no limit"
        )
    return value


def some_entries(value: list[str]) -> list[str]:
    """vzctl cannot empty NAMESERVER/SEARCHDOMAIN (`--nameserver ''` adds nothing, keeps the rest)."""
    if not value:
        raise ValueError(
            "an empty list cannot be set with vzctl, which keeps the entries it has; list at least one, or leave the field out"
        )
    return value


def devperm(value: str) -> str:
    """A device permission as vzctl stores it (config.c's devperm2str): r, w, q in that order,
    each once, so `wr` is `rw`; `none` stays."""
    return value if value == "none" else "".join(c for c in "rwq" if c in value)


def ostemplate(value: str) -> str:
    if not _OSTEMPLATE.fullmatch(value) or ".." in value:
        raise ValueError(
            f"{value!r} is not an OS template name of the form distro-version-arch[-flavour], e.g. debian-12.0-x86_64-minimal"
        )
    return value


def pattern(regex: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return check


def not_bool(value: Any) -> Any:
    """Runs before a `str | int` union, which would otherwise take true as 1."""
    if isinstance(value, bool):
        raise ValueError("expected a size or count, got a boolean")
    return value


def _whole(value: int) -> int:
    if value < 0:
        raise ValueError("cannot be negative")
    if value > units.LONG_MAX:
        raise ValueError(f"{value} is larger than vzctl's maximum ({units.LONG_MAX})")
    return value


def not_numeric(value: str) -> str:
    """vzctl reads an all-digit argument as a CTID, so such a name could never be used."""
    if value.isdigit():
        raise ValueError(
            f"{value!r}: a container name must not be all digits (vzctl reads it as a CTID)"
        )
    return value


def soft_hard(parse: Any) -> Any:
    """`value` or `soft:hard`, each part checked with `parse`; soft must not exceed hard."""

    def check(value: str | int) -> str | int:
        if isinstance(value, int):
            return _whole(value)
        safe_text(value)
        try:
            soft, hard = units.pair(value)
            if parse(soft) > parse(hard):
                raise ValueError(f"{value!r}: the soft limit is above the hard limit")
        except units.UnitError as exc:
            raise ValueError(str(exc)) from exc
        return value

    return check


def _string(pattern: str | None = None, **extra: Any) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", **extra}
    if pattern is not None:
        schema["pattern"] = pattern
    return WithJsonSchema(schema)


def _size_schema(part: str, pair: bool) -> WithJsonSchema:
    text = f"^(?:{part})(?::(?:{part}))?$" if pair else f"^(?:{part})$"
    number = {"type": "integer", "minimum": 0, "maximum": units.LONG_MAX}
    return WithJsonSchema({"anyOf": [{"type": "string", "pattern": text}, number]})


_SAFE = f"^[^{_FORBIDDEN_CLASS}]*$"
_YES_NO = {
    "anyOf": [{"type": "boolean"}, {"type": "string", "pattern": "^(?:[Yy][Ee][Ss]|[Nn][Oo])$"}]
}


def _matching(
    regex: re.Pattern[str],
    what: str,
    *after: Callable[[str], str],
    safe: bool = True,
    schema: str | None = None,
) -> tuple[Any, ...]:
    """The checks of a string type: no unsafe character (with `safe`), matched by `regex` (a
    `what` otherwise), then `after`; its JSON Schema is `regex` unless `schema` says more."""
    first = (AfterValidator(safe_text),) if safe else ()
    checks = (AfterValidator(pattern(regex, what)), *map(AfterValidator, after))
    return (*first, *checks, _string(regex.pattern if schema is None else schema))


def _sized(rule: sizes.SizeRule, *, pair: bool = False) -> tuple[Any, ...]:
    """The checks of a size type: a size in `rule`'s units, or `soft:hard` of two with `pair`."""
    check = sizes.soft_hard(rule) if pair else sizes.size(rule)
    return (BeforeValidator(not_bool), AfterValidator(check), sizes.schema(rule, pair))


StrictInt = Annotated[int, BeforeValidator(strict_int)]
YesNo = Annotated[bool, BeforeValidator(yes_no_bool), WithJsonSchema(_YES_NO)]
SafeStr = Annotated[str, AfterValidator(safe_text), _string(_SAFE)]
CtId = Annotated[int, BeforeValidator(strict_int), Field(ge=CTID_MIN, le=CTID_MAX)]
Hostname = Annotated[
    str,
    AfterValidator(safe_text),
    AfterValidator(hostname),
    _string(_HOSTNAME.pattern, maxLength=253),
]
IpInterface = Annotated[
    str, AfterValidator(ip_interface), _string(r"^[0-9A-Fa-f.:]+(?:/[0-9.]+)?$")
]
IpAddress = Annotated[
    str, AfterValidator(safe_text), AfterValidator(ip_address), _string(r"^[0-9A-Fa-f.:]+$")
]
OsTemplate = Annotated[
    str,
    AfterValidator(safe_text),
    AfterValidator(ostemplate),
    _string("^(?!.*\\.\\.)" + _OSTEMPLATE.pattern.removeprefix("^")),
]
SampleName = Annotated[str, *_matching(_SAMPLE, "config sample name")]
ObjectName = Annotated[str, *_matching(_NAME, "name (letters, digits, . _ + -)")]
_SSH_HOST = re.compile(r"^(?!-)[A-Za-z0-9.:_-]{1,253}$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_HOST_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521)"
    r" [A-Za-z0-9+/]+={0,3}$"
)
_KNOWN_HOSTS = re.compile(r"^(?:/|~/)[A-Za-z0-9._/+~-]{0,4094}$")
SshHost = Annotated[str, *_matching(_SSH_HOST, "ssh host (a host name or an IP address)")]
SshUser = Annotated[str, *_matching(_SSH_USER, "user name (a-z, 0-9, _ -)", safe=False)]
HostKey = Annotated[
    str,
    *_matching(_HOST_KEY, "host key ('ssh-ed25519 AAAA...', as ssh-keyscan prints it)", safe=False),
]
KnownHostsPath = Annotated[
    str,
    *_matching(
        _KNOWN_HOSTS,
        "known_hosts file path (absolute or ~/..., on the machine that runs vzgitops)",
        safe=False,
    ),
]
ContainerName = Annotated[
    str,
    *_matching(
        _NAME,
        "name (letters, digits, . _ + -)",
        not_numeric,
        schema="^(?![0-9]+$)" + _NAME.pattern.removeprefix("^"),
    ),
]
CpuMask = Annotated[
    str, AfterValidator(safe_text), AfterValidator(cpumask), _string(_CPUMASK.pattern)
]
CInt = Annotated[int, BeforeValidator(strict_int), AfterValidator(c_int)]
IfName = Annotated[str, *_matching(_IFNAME, "interface name")]
Mac = Annotated[str, *_matching(_MAC, "MAC address (00:18:51:AA:BB:CC)")]
DevNode = Annotated[str, *_matching(_DEVNODE, "device node name (e.g. net/tun)")]
DevPerm = Annotated[str, *_matching(_DEVPERM, "device permission (r, w, q or none)", devperm)]
MemorySize = Annotated[str | int, *_sized(sizes.RAM)]
SwapSize = Annotated[str | int, *_sized(sizes.SWAP)]
TotalMemory = Annotated[str | int, *_sized(sizes.TOTAL_RAM)]
ByteRate = Annotated[str | int, *_sized(sizes.IOLIMIT)]
DiskSize = Annotated[str | int, *_sized(sizes.DISK, pair=True)]
TotalDisk = Annotated[str | int, *_sized(sizes.TOTAL_DISK, pair=True)]
ItemCount = Annotated[
    str | int,
    BeforeValidator(not_bool),
    AfterValidator(soft_hard(units.to_items)),
    _size_schema(_COUNT, True),
]
Resolvers = Annotated[list[IpAddress], AfterValidator(some_entries)]
SearchDomains = Annotated[list[Hostname], AfterValidator(some_entries)]
