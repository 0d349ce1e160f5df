"""Fault injection for the simulated node: failing, slow and hanging vzctl/vzlist calls, and
vzlist listings cut short (`truncate`: stdout ends after N bytes, exit status 0). A `migrate`
rule may name a `step` of vzmigrate (STEPS); it then acts only there.

Rules live in `DIR/faults.json` and are read and updated under an fcntl lock, so concurrent
simulated processes consume a `--fail N` budget exactly N times. A `--fail-rate P` rule
draws from a deterministic sequence (splitmix64 of the seed and the rule's call counter), so
"30% of calls fail with exit 9" is reproducible for a given seed and call order.
"""

from __future__ import annotations

import os

from reconciler.atomicwrite import replace_file
from vzsim.lock import flocked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

VERBS: tuple[str, ...] = (
    "create",
    "set",
    "start",
    "stop",
    "restart",
    "destroy",
    "status",
    "exec",
    "mount",
)
VERBS += ("umount", "vzlist", "vzdump", "vzrestore", "migrate", "*")
# Where in a migration a `migrate` rule with a step acts (see vzsim.vzmigrate).
STEPS: tuple[str, ...] = ("before-copy", "after-copy", "after-start")
_MASK = (1 << 64) - 1


class Decision:
    """What the matching rules ask of one call."""

    __slots__ = ("fail", "hang", "latency", "truncate")

    def __init__(self) -> None:
        self.fail: int | None = None
        self.latency = 0.0
        self.hang = False
        self.truncate: int | None = None


def _load(path: str) -> list[dict[str, Any]]:
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return []
    rules = data.get("rules") if isinstance(data, dict) else None
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _store(path: str, rules: list[dict[str, Any]]) -> None:
    import json

    text = json.dumps({"rules": rules}, indent=2, sort_keys=True) + "\n"
    replace_file(path, text.encode(), tmp=f"{path}.{os.getpid()}.tmp")


def add_rule(path: str, rule: dict[str, Any]) -> None:
    """Add a rule, or update the one with the same verb, ctid and step."""
    with flocked(path + ".lock"):
        rules = _load(path)
        for old in rules:
            same = all(old.get(k) == rule.get(k) for k in ("verb", "ctid", "step"))
            if same:
                old.update({k: v for k, v in rule.items() if v is not None})
                break
        else:
            rules.append(rule)
        _store(path, rules)


def clear(path: str) -> None:
    with flocked(path + ".lock"):
        _store(path, [])


def uniform(seed: int, n: int) -> float:
    """The n-th number in [0, 1) of the splitmix64 sequence for a seed."""
    x = (seed + (n + 1) * 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return (x ^ (x >> 31)) / 2.0**64


def _matches(rule: dict[str, Any], verb: str, ctid: int | None, step: str | None) -> bool:
    want = rule.get("verb")
    verb_ok = want in ("*", verb) or (want == "exec" and verb in ("exec2", "exec3"))
    return verb_ok and rule.get("ctid") in (None, ctid) and rule.get("step") == step


def _consume(rule: dict[str, Any]) -> int | None:
    """The exit code this call fails with under the rule, updating its counters."""
    code = rule.get("exit")
    if not isinstance(code, int):
        return None
    if int(rule.get("fail") or 0) > 0:
        rule["fail"] = int(rule["fail"]) - 1
        return code
    rate = rule.get("fail_rate")
    if rate:
        seen = int(rule.get("seen") or 0)
        rule["seen"] = seen + 1
        if uniform(int(rule.get("seed") or 0), seen) < float(rate):
            return code
    return None


def decide(path: str, verb: str, ctid: int | None, step: str | None = None) -> Decision | None:
    """Apply the rules matching one call (at `step` of it, for the rules naming one); None when
    the node has no faults at all."""
    if not os.path.exists(path):
        return None
    decision = Decision()
    with flocked(path + ".lock"):
        rules = _load(path)
        changed = False
        for rule in rules:
            if not _matches(rule, verb, ctid, step):
                continue
            decision.latency = max(decision.latency, float(rule.get("latency") or 0))
            decision.hang = decision.hang or bool(rule.get("hang"))
            cut = rule.get("truncate")
            if isinstance(cut, int) and not isinstance(cut, bool):
                decision.truncate = (
                    cut if decision.truncate is None else min(decision.truncate, cut)
                )
            if decision.fail is None and (rule.get("fail") or rule.get("fail_rate")):
                decision.fail = _consume(rule)
                changed = True
        if changed:
            _store(path, rules)
    return decision
