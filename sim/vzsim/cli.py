"""`vzgitops sim ...`: create a simulated OpenVZ node, inject faults, read its operation log.

The main vzgitops CLI dispatches `vzgitops sim ARGS...` to `main(ARGS)`; it also runs as
`python -m vzsim.cli ARGS...`. Exit status: 0 ok, 1 a known error, 64 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys

from vzsim import faults, hardware, nodeinit
from vzsim.oplog import read_oplog

USAGE_EXIT = 64


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(USAGE_EXIT)


def _parser() -> argparse.ArgumentParser:
    top = _Parser(prog="vzgitops sim", description="Simulated OpenVZ 4.x hardware node.")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    init = sub.add_parser("init", help="create a node in DIR")
    init.add_argument("dir")
    init.add_argument(
        "--template",
        action="append",
        default=[],
        metavar="NAME",
        help="add an OS template cache (repeatable)",
    )
    init.add_argument("--force", action="store_true", help="recreate a non-empty DIR")
    init.add_argument("--arch", choices=hardware.ARCHES, help="machine (uname -m); x86_64")
    init.add_argument("--cpus", type=int, metavar="N", help="CPUs (nproc); 16")
    init.add_argument("--ram", metavar="SIZE", help="RAM (free), e.g. 4G; 64G")
    init.add_argument("--swap", metavar="SIZE", help="swap (free), e.g. 1G; 16G")
    init.add_argument("--disk", metavar="SIZE", help="size of /vz (df), e.g. 100G; 1T")
    init.add_argument("--ploop", action="store_true", help="the node has ploop; without it: none")
    fault = sub.add_parser("fault", help="inject failures, latency or hangs")
    fault.add_argument("dir")
    fault.add_argument("--verb", choices=faults.VERBS)
    fault.add_argument("--ctid", type=int)
    fault.add_argument("--fail", type=int, metavar="N", help="fail the next N matching calls")
    fault.add_argument("--fail-rate", type=float, metavar="P", help="fail with probability P")
    fault.add_argument("--seed", type=int, default=None, help="seed of the --fail-rate sequence")
    fault.add_argument("--exit", type=int, metavar="CODE", help="exit status of a failed call")
    fault.add_argument("--latency", type=float, metavar="SECONDS", help="delay every call")
    fault.add_argument("--hang", action="store_true", help="sleep until killed")
    fault.add_argument(
        "--truncate", type=int, metavar="BYTES", help="vzlist: cut its output after BYTES bytes"
    )
    fault.add_argument(
        "--step",
        choices=faults.STEPS,
        help="migrate: act at this step of vzmigrate instead of before it locks the container",
    )
    fault.add_argument("--clear", action="store_true", help="remove every rule")
    log = sub.add_parser("oplog", help="print the operation log")
    log.add_argument("dir")
    log.add_argument("--json", action="store_true", help="print a JSON array")
    return top


def _hardware(args: argparse.Namespace) -> hardware.Hardware:
    default = hardware.Hardware()
    try:
        sizes = {
            name: default.__dict__[name] if text is None else hardware.parse_size(text)
            for name, text in (("ram", args.ram), ("swap", args.swap), ("disk", args.disk))
        }
    except ValueError as exc:
        raise nodeinit.InitError(str(exc)) from exc
    cpus = default.cpus if args.cpus is None else args.cpus
    if not 1 <= cpus <= 4096 or sizes["ram"] <= 0 or sizes["disk"] <= 0:
        raise nodeinit.InitError("--cpus must be 1..4096, --ram and --disk more than 0")
    return hardware.Hardware(arch=args.arch or default.arch, cpus=cpus, ploop=args.ploop, **sizes)


def _init(args: argparse.Namespace) -> int:
    machine = _hardware(args)
    root = nodeinit.init_node(args.dir, args.template, args.force, machine)
    print(f"Simulated OpenVZ 4.x node ready in {root}")
    print(f"  . {root}/env      # puts vzctl/vzlist on PATH, sets VZGITOPS_VZ_CONF_DIR")
    print("  vzctl create 101 --ostemplate debian-12.0-x86_64-minimal")
    print(f"  vzgitops sim fault {root} --verb start --fail 1 --exit 9")
    print(f"  vzgitops sim oplog {root}")
    return 0


def _fault_rule(args: argparse.Namespace) -> dict[str, object] | str:
    if args.verb is None:
        return "--verb is required unless --clear is given"
    if (args.fail is not None or args.fail_rate is not None) and args.exit is None:
        return "--fail and --fail-rate need --exit CODE"
    if args.exit is not None and not 0 <= args.exit <= 255:
        return "--exit must be between 0 and 255"
    if args.fail_rate is not None and not 0.0 <= args.fail_rate <= 1.0:
        return "--fail-rate must be between 0 and 1"
    if (args.fail is not None and args.fail < 0) or (args.latency or 0) < 0:
        return "--fail and --latency must not be negative"
    if args.truncate is not None and (args.truncate < 0 or args.verb != "vzlist"):
        return "--truncate needs --verb vzlist and a byte count of 0 or more"
    if args.step is not None and args.verb != "migrate":
        return "--step needs --verb migrate"
    return {
        "verb": args.verb,
        "ctid": args.ctid,
        "fail": args.fail,
        "exit": args.exit,
        "fail_rate": args.fail_rate,
        "seed": args.seed,
        "latency": args.latency,
        "hang": True if args.hang else None,
        "truncate": args.truncate,
        "step": args.step,
    }


def _fault(args: argparse.Namespace) -> int:
    path = f"{args.dir.rstrip('/')}/faults.json"
    if args.clear:
        faults.clear(path)
        return 0
    rule = _fault_rule(args)
    if isinstance(rule, str):
        sys.stderr.write(f"vzgitops sim fault: {rule}\n")
        return USAGE_EXIT
    faults.add_rule(path, rule)
    return 0


def _oplog(args: argparse.Namespace) -> int:
    entries = read_oplog(args.dir)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for e in entries:
        argv = " ".join(str(a) for a in e.get("argv", []))
        print(
            f"{e.get('ts', 0):.6f} {e.get('tool')} {e.get('verb')} {e.get('ctid')} "
            f"rc={e.get('rc')} {argv}"
        )
    return 0


def main(argv: list[str]) -> int:
    """Run `vzgitops sim ARGS...` (argv without the program name)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE_EXIT
    import os

    if args.command != "init" and not os.path.isfile(os.path.join(args.dir, "vz.conf")):
        sys.stderr.write(f"vzgitops sim: {args.dir} is not a simulated node (no vz.conf)\n")
        return 1
    try:
        return {"init": _init, "fault": _fault, "oplog": _oplog}[args.command](args)
    except nodeinit.InitError as exc:
        sys.stderr.write(f"vzgitops sim init: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"vzgitops sim: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
