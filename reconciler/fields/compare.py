"""Comparisons of canonical values other than equality, and when a change needs a restart (pure).

Merged settings (features, capability, devnodes, netif) hold more on the node than git names;
only what git names must match. Used by the field table in `reconciler.fields` and by
`reconciler.fields.options`.
"""

from __future__ import annotations

from reconciler.fields.canon import Canon, NetIfCanon


def _subset(want: Canon, have: Canon) -> bool:
    """Merged settings (features, capability, devnodes): only what git names must match."""
    held = dict(have or ())
    return all(held.get(key) == value for key, value in want)


def _devnodes_equal(want: Canon, have: Canon) -> bool:
    """`none` means the device node is absent."""
    held = dict(have or ())
    return all(held.get(key, "none") == perm for key, perm in want)


def _netif_equal(want: NetIfCanon, have: NetIfCanon) -> bool:
    held = dict(have or ())
    if set(held) != {name for name, _ in want}:
        return False
    return all(_subset(attrs, held[name]) for name, attrs in want)


def _ugid_restart(before: Canon, after: Canon) -> bool:
    return bool(before) != bool(after)
