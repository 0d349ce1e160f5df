"""Value parsing and formatting with vzctl 4.x semantics (C `strtoul`, suffixes, IPs, masks).

Used by the config reader, the `vzctl set/create` option parser and `vzlist`. Every parser
returns None (or raises nothing) on a bad value, the way vzctl returns ERR_INVAL; callers turn
that into `Bad parameter for --X: V` (exit 21) or a config warning.
"""

from __future__ import annotations

from vzsim.codes import INT_MAX, LONG_MAX, PAGE_SIZE

ULLONG_MAX = (1 << 64) - 1
# Addresses vzctl silently skips in --ipadd/--ipdel and IP_ADDRESS.
NO_ADDRESS = frozenset(("0.0.0.0", "::", "::0"))  # noqa: S104
_MULTIPLIERS = {"t": 1 << 40, "g": 1 << 30, "m": 1 << 20, "k": 1 << 10, "p": PAGE_SIZE, "b": 1}
TRUNCATED = "truncated"


def strtoull(text: str) -> tuple[int, str, bool]:
    """C strtoull(text, &tail, 10): (value, tail, overflowed); no digits -> (0, text, False)."""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\n\r\f\v":
        i += 1
    neg = i < n and text[i] == "-"
    if i < n and text[i] in "+-":
        i += 1
    start = i
    while i < n and "0" <= text[i] <= "9":
        i += 1
    if i == start:
        return 0, text, False
    value = int(text[start:i])
    if value > ULLONG_MAX:
        return ULLONG_MAX, text[i:], True
    return ((-value) & ULLONG_MAX if neg else value), text[i:], False


def parse_int(text: str) -> int | None:
    """vzctl parse_int(): strtol with nothing left over, within C int range."""
    value, tail, overflow = strtoull(text)
    if tail or overflow:
        return None
    signed = value - (1 << 64) if value > LONG_MAX else value
    if signed < -INT_MAX - 1 or signed > INT_MAX:
        return None
    return signed


def parse_ul(text: str) -> int | None:
    """vzctl parse_ul(): `unlimited` or an unsigned number not above LONG_MAX."""
    if text == "unlimited":
        return LONG_MAX
    value, tail, _ = strtoull(text)
    if tail or value > LONG_MAX:
        return None
    return value


def float_prefix(text: str) -> tuple[float, str]:
    """C strtold(): the longest decimal float prefix and the rest."""
    i, n = 0, len(text)
    while i < n and (text[i].isdigit() or text[i] in "+-."):
        if text[i] in "+-" and i > 0:
            break
        i += 1
    if i < n and text[i] in "eE" and i + 1 < n and (text[i + 1].isdigit() or text[i + 1] in "+-"):
        j = i + 2
        while j < n and text[j].isdigit():
            j += 1
        i = j
    try:
        return float(text[:i]), text[i:]
    except ValueError:
        return 0.0, text


def parse_ul_sfx(text: str, divisor: int, allow_unlimited: bool) -> tuple[int, str] | None:
    """vzctl parse_ul_sfx(): a number with an optional K/M/G/T/P/B suffix, divided by divisor."""
    if allow_unlimited and text.startswith("unlimited"):
        return LONG_MAX, text[9:]
    value, tail, overflow = strtoull(text)
    if overflow:
        return None
    real = float(value)
    if tail.startswith("."):
        real, tail = float_prefix(text)
        value = int(real)
    if tail and tail[0] != ":":
        mul = _MULTIPLIERS.get(tail[0].lower())
        if not divisor or mul is None:
            return None
        real = real * mul / divisor
        value = LONG_MAX + 1 if real > LONG_MAX else int(real)
        tail = tail[1:]
    return value, tail


_PAIRS: dict[tuple[str, int, bool], tuple[int, int, bool] | None] = {}


def parse_pair(text: str, divisor: int, allow_unlimited: bool) -> tuple[int, int, bool] | None:
    """vzctl parse_twoul_sfx(): `b[:l]` -> (barrier, limit, truncated); a single value sets both."""
    key = (text, divisor, allow_unlimited)
    if key not in _PAIRS:
        _PAIRS[key] = _parse_pair(text, divisor, allow_unlimited)
    return _PAIRS[key]


def _parse_pair(text: str, divisor: int, allow_unlimited: bool) -> tuple[int, int, bool] | None:
    head, colon, tail = text.partition(":")
    if head.isascii() and head.isdigit() and (not colon or (tail.isascii() and tail.isdigit())):
        barrier, limit = int(head), int(tail) if colon else int(head)
        if barrier <= LONG_MAX and limit <= LONG_MAX:
            return barrier, limit, False
    first = parse_ul_sfx(text, divisor, allow_unlimited)
    if first is None:
        return None
    barrier, rest = first
    truncated = barrier > LONG_MAX
    barrier = min(barrier, LONG_MAX)
    if rest == "":
        return barrier, barrier, truncated
    if rest[0] != ":":
        return None
    second = parse_ul_sfx(rest[1:], divisor, allow_unlimited)
    if second is None or second[1] != "":
        return None
    limit = second[0]
    return barrier, min(limit, LONG_MAX), truncated or limit > LONG_MAX


def ubcstr(barrier: int, limit: int) -> str:
    """The stored form of a UBC pair: `unlimited` for LONG_MAX, one value when equal."""

    def one(v: int) -> str:
        return "unlimited" if v == LONG_MAX else str(v)

    return one(barrier) if barrier == limit else f"{one(barrier)}:{one(limit)}"


def c_int32(value: int) -> int:
    """Truncate to a C int the way `(int)` does on x86_64."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def yesno(text: str) -> str | None:
    """vzctl yesno2id(): only `yes` and `no`."""
    return text if text in ("yes", "no") else None


def canon_ip(text: str) -> str | None:
    """vzctl canon_ip(): validate an IPv4/IPv6 address with an optional CIDR mask, canonicalised."""
    import socket

    ip, _, mask = text.partition("/")
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        canon = socket.inet_ntop(family, socket.inet_pton(family, ip))
    except (OSError, ValueError):
        return None
    if "/" not in text:
        return canon
    bits = parse_int(mask)
    limit = 128 if family == socket.AF_INET6 else 32
    if bits is None or bits < 0 or bits > limit:
        return None
    return f"{canon}/{bits}"


def find_ip(ips: list[str], addr: str) -> str | None:
    """vzctl find_ip(): the entry equal to addr, or with the same address and any mask."""
    ip_only, slash, _ = addr.partition("/")
    prefix = ip_only + "/"
    for entry in ips:
        if entry == addr or (slash and entry == ip_only) or entry.startswith(prefix):
            return entry
    return None


def strip_mask(addr: str) -> str:
    """The kernel keeps venet addresses without masks."""
    return addr.partition("/")[0]


def parse_bitmap(text: str, nbits: int = 4096) -> list[int] | None:
    """vzctl bitmap_parse(): `0-2,7` or `all` -> sorted bit numbers."""
    if text == "all":
        return list(range(nbits))
    bits: set[int] = set()
    for part in text.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            return None
        a, b = int(lo), int(hi) if dash else int(lo)
        if a > b or b >= nbits:
            return None
        bits.update(range(a, b + 1))
    return sorted(bits)


def format_bitmap(bits: list[int], nbits: int = 4096) -> str:
    """vzctl bitmap_snprintf() as stored: `all`, or ranges like `0-2,7`."""
    if len(bits) == nbits:
        return "all"
    out: list[str] = []
    i = 0
    while i < len(bits):
        j = i
        while j + 1 < len(bits) and bits[j + 1] == bits[j] + 1:
            j += 1
        out.append(str(bits[i]) if i == j else f"{bits[i]}-{bits[j]}")
        i = j + 1
    return ",".join(out)


def parse_mac(text: str) -> str | None:
    """vzctl parse_hwaddr(): six hex pairs separated by anything, stored upper-case."""
    if len(text) < 17:
        return None
    pairs = [text[3 * i : 3 * i + 2] for i in range(6)]
    if not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in pairs):
        return None
    return ":".join(p.upper() for p in pairs)


def generate_mac(veid: int, dev_name: str, hwid: str) -> str:
    """A deterministic MAC in the SWsoft OUI, hashed like vzctl from CTID, device and host MAC."""
    data = f"{dev_name}:{veid}:{hwid} ".encode()
    mask = 0xFFFFFFFF
    h = veid & mask
    for i in range(len(data) - 1):
        h = (h + data[i]) & mask
        tmp = ((data[i + 1] << 11) ^ h) & mask
        h = ((h << 16) ^ tmp) & mask
        h = (h + (h >> 11)) & mask
    for shift, left in ((3, True), (5, False), (4, True), (17, False), (25, True), (6, False)):
        h = (h ^ (h << shift)) & mask if left else (h + (h >> shift)) & mask
    octets = [0x00, 0x18, 0x51, h & 0xFF, (h >> 8) & 0xFF, (h >> 15) & 0xFF]
    return ":".join(f"{o:02X}" for o in octets)
