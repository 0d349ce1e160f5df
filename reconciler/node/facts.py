"""Asking the node about itself for pre-flight: arch, CPUs, memory, free disk, template caches,
config samples, ploop.

Shell part: `gather()` runs eight short commands through the `Runner` (argument lists, the same
on a real node, over ssh and on the simulated node, whose `bin/` answers them from its
hardware): `cat VZ_CONF` (TEMPLATE, VE_PRIVATE and VE_LAYOUT), `uname -m`, `nproc`, `free -b`,
`df -P -k PRIVATE`, `ls -1 TEMPLATE/cache`, `ls -1 CONF_DIR` (the config samples) and `ls -1
/proc/vz` (its ploop_minor is what vzctl's is_ploop_supported() and its bash completion look
for). The reconcile asks only when a plan has something pre-flight must check (a create, a
start, a raised limit), so a converged node costs nothing. Pure part: the parsers, one per tool
output. Any failure gives `FactsUnknown` naming the command, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath, PurePosixPath

from reconciler.errors import VzGitopsError
from reconciler.node.process import Runner
from reconciler.node.vzconf import parse_conf
from reconciler.plan.facts import FactsUnknown, NodeFacts, sample_names, template_names

PROBE_TIMEOUT = 30.0
DEFAULT_TEMPLATE = "/vz/template"  # vz.conf defaults (REFERENCE.md 2.2)
DEFAULT_PRIVATE = "/vz/private/$VEID"
PROC_VZ = "/proc/vz"  # ploop_minor there: vzctl's is_ploop_supported() (src/lib/image.c)


class ProbeFailed(ValueError):
    """A probe's output was not what its tool prints; the message names the command."""


def vz_conf_path(conf_dir: PurePath) -> PurePath:
    """/etc/vz/vz.conf next to /etc/vz/conf (the simulated node keeps both under its DIR)."""
    return conf_dir.parent / "vz.conf"


def vz_conf_setting(run: Runner, conf_dir: PurePath, key: str) -> str:
    """One setting of the node's vz.conf (beside its config directory), read on the node with
    `cat`; "" when the file cannot be read or does not set it."""
    done = run(("cat", str(vz_conf_path(conf_dir))), timeout=60)
    return parse_conf(done.stdout).get(key, "") if done.code == 0 else ""


def node_path(value: str | None, default: str, key: str) -> str:
    """An absolute path from vz.conf, with `$VEID` and what follows cut off."""
    path = (value or default).split("$", 1)[0].rstrip("/") or "/"
    if not path.startswith("/") or any(c in path for c in "\0\n"):
        raise ProbeFailed(f"vz.conf: {key}={value!r} is not an absolute path")
    return path


def parse_int(text: str, argv: Sequence[str]) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) < 1:
        raise ProbeFailed(f"{' '.join(argv)} printed {value[:40]!r}, not a positive number")
    return int(value)


def parse_arch(text: str) -> str:
    arch = text.strip()
    if not arch or any(c.isspace() for c in arch):
        raise ProbeFailed(f"uname -m printed {arch[:40]!r}, not a machine name")
    return arch


def parse_free(text: str) -> tuple[int, int]:
    """`free -b` -> (RAM, swap) totals in bytes."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Mem:", "Swap:") and parts[1].isdigit():
            totals[parts[0]] = int(parts[1])
    if "Mem:" not in totals:
        raise ProbeFailed("free -b printed no 'Mem:' line with a total")
    return totals["Mem:"], totals.get("Swap:", 0)


def parse_df(text: str) -> int:
    """`df -P -k PATH` -> KiB available (POSIX format: the fourth column of the last line)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or len(lines[-1]) < 6 or not lines[-1][3].isdigit():
        raise ProbeFailed("df -P -k printed no filesystem line with an Available column")
    return int(lines[-1][3])


def _run(run: Runner, argv: Sequence[str], failed_ok: bool = False) -> str:
    done = run(argv, timeout=PROBE_TIMEOUT)
    if done.code != 0 and not failed_ok:
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.code}"]
        raise ProbeFailed(f"{' '.join(argv)} failed: {detail[0]}")
    return done.stdout if done.code == 0 else ""


def _proc_vz(run: Runner) -> frozenset[str]:
    """`ls -1 /proc/vz`: what the OpenVZ kernel has there; none when it cannot be listed (no
    OpenVZ kernel: GNU ls exits 2, or 1); any other failure (ssh's 255) is no answer."""
    argv = ("ls", "-1", PROC_VZ)
    done = run(argv, timeout=PROBE_TIMEOUT)
    if done.code not in (0, 1, 2):
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.code}"]
        raise ProbeFailed(f"{' '.join(argv)} failed: {detail[0]}")
    return frozenset(done.stdout.split()) if done.code == 0 else frozenset()


def _gather(run: Runner, conf_dir: PurePosixPath) -> NodeFacts:
    conf = parse_conf(_run(run, ("cat", str(vz_conf_path(conf_dir)))))
    template = node_path(conf.get("TEMPLATE"), DEFAULT_TEMPLATE, "TEMPLATE")
    private = node_path(conf.get("VE_PRIVATE"), DEFAULT_PRIVATE, "VE_PRIVATE")
    ram, swap = parse_free(_run(run, ("free", "-b")))
    # a missing cache directory holds no templates: `ls` fails, and that is the answer
    listing = _run(run, ("ls", "-1", f"{template}/cache"), failed_ok=True)
    samples = _run(run, ("ls", "-1", str(conf_dir)), failed_ok=True)
    return NodeFacts(
        arch=parse_arch(_run(run, ("uname", "-m"))),
        cpus=parse_int(_run(run, ("nproc",)), ("nproc",)),
        ram=ram,
        swap=swap,
        disk_free=parse_df(_run(run, ("df", "-P", "-k", private))),
        template_dir=template,
        templates=template_names(listing.splitlines()),
        conf_dir=str(conf_dir),
        samples=sample_names(samples.splitlines()) if samples else None,
        ploop="ploop_minor" in _proc_vz(run),
        ve_layout=conf.get("VE_LAYOUT"),
    )


def gather(run: Runner, conf_dir: PurePosixPath) -> NodeFacts | FactsUnknown:
    """The node's facts, or why they could not be had (a probe failed or printed nonsense)."""
    try:
        return _gather(run, conf_dir)
    except (ProbeFailed, VzGitopsError) as exc:
        return FactsUnknown(f"pre-flight could not ask the node: {exc}")
