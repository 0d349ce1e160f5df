"""The `vzctl set` options that change a setting from one canonical value to another (pure).

Each builder takes (want, have) and returns the argv words for that change, as an argument list
(no shell strings). Used by the field table in `reconciler.fields`.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler import units
from reconciler.fields.canon import NETIF_KEYS, Canon, NetIfCanon
from reconciler.fields.compare import _subset


def _opt(option: str, render: Callable[[Canon], str]) -> Callable[[Canon, Canon], list[str]]:
    def build(want: Canon, _have: Canon) -> list[str]:
        return [option, render(want)]

    return build


def _yes_no(value: Canon) -> str:
    return "yes" if value else "no"


def _pair(value: Canon) -> str:
    soft, hard = value
    return f"{soft}:{hard}"


def _pair_items(value: Canon) -> str:
    soft, hard = value
    text = [("unlimited" if v == units.LONG_MAX else str(v)) for v in (soft, hard)]
    return text[0] if text[0] == text[1] else f"{text[0]}:{text[1]}"


def _ip_argv(want: Canon, have: Canon) -> list[str]:
    wanted_addrs = {ip.split("/")[0] for ip in want}
    argv: list[str] = []
    for ip in have or ():
        if ip.split("/")[0] not in wanted_addrs:
            argv += ["--ipdel", ip]
    for ip in want:
        if ip not in (have or ()):
            argv += ["--ipadd", ip]
    if not want and have:
        argv = ["--ipdel", "all"]
    return argv


def _repeat(option: str) -> Callable[[Canon, Canon], list[str]]:
    def build(want: Canon, _have: Canon) -> list[str]:
        argv: list[str] = []
        for item in want:
            argv += [option, item]
        return argv

    return build


def _flag_argv(option: str) -> Callable[[Canon, Canon], list[str]]:
    def build(want: Canon, have: Canon) -> list[str]:
        held = dict(have or ())
        changed = [f"{k}:{'on' if v else 'off'}" for k, v in want if held.get(k) != v]
        return [option, ",".join(changed)] if changed else []

    return build


def _devnodes_argv(want: Canon, have: Canon) -> list[str]:
    held = dict(have or ())
    argv: list[str] = []
    for name, perm in want:
        if held.get(name, "none") != perm:
            argv += ["--devnodes", f"{name}:{perm}"]
    return argv


def _netif_argv(want: NetIfCanon, have: NetIfCanon) -> list[str]:
    """--netif_add on an existing interface merges into it (vzctl's merge_veth_list); a
    --netif_del of the same interface in the same call would drop it instead."""
    held = dict(have or ())
    wanted = dict(want)
    argv: list[str] = []
    for name in sorted(held):
        if name not in wanted:
            argv += ["--netif_del", name]
    for name, attrs in want:
        if name in held and _subset(attrs, held[name]):
            continue
        parts = dict(attrs)
        argv += ["--netif_add", ",".join([name, *(parts.get(k, "") for k in NETIF_KEYS)])]
    return argv
