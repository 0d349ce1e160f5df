"""How a canonical value is shown to people, in plans, drift and reports (pure).

Used by the field table in `reconciler.fields`.
"""

from __future__ import annotations

from reconciler import units
from reconciler.fields.canon import Canon


def _show_list(value: Canon) -> str:
    return ", ".join(value) if value else "(none)"


def _show_flags(value: Canon) -> str:
    return ", ".join(f"{k}:{'on' if v else 'off'}" for k, v in value) or "(none)"


def _show_perms(value: Canon) -> str:
    return ", ".join(f"{k}:{v}" for k, v in value) or "(none)"


def _show_netif(value: Canon) -> str:
    shown = [name + "(" + ",".join(f"{k}={v}" for k, v in attrs) + ")" for name, attrs in value]
    return "; ".join(shown) or "(none)"


def _show_disk(value: Canon) -> str:
    soft, hard = value
    left, right = units.format_binary(soft, 1024), units.format_binary(hard, 1024)
    return left if soft == hard else f"{left}:{right}"


def _show_rate(value: Canon) -> str:
    return units.format_binary(int(value)) + "/s" if value else "unlimited"
