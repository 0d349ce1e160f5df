"""The simulated `vzctl` (vzctl 4.11.1 on an OpenVZ kernel): `main(argv, state_dir)`.

`DIR/bin/vzctl` calls this in a fresh process. The order of checks is vzctl.c main():
global flags, command, CTID (number or name), per-command options, CT0, config existence,
then the container lock (vzctl-actions.c run_action()) and the command itself. Fault
injection acts where the lock is taken; mutating calls are appended to the operation log.
"""

from __future__ import annotations

import os
import sys
import time

from reconciler.vzexit import VzctlExit
from vzsim import codes, faults, lock, oplog
from vzsim.ctx import Ctx
from vzsim.layout import Node
from vzsim.output import Log, raw_bytes_ok
from vzsim.values import parse_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

VERSION = "4.11.1"
COMMANDS = {
    "set": "set", "create": "create", "start": "start", "stop": "stop", "restart": "restart",
    "destroy": "destroy", "delete": "destroy", "mount": "mount", "umount": "umount",
    "exec3": "exec3", "exec2": "exec2", "exec": "exec", "runscript": "runscript",
    "enter": "enter", "console": "console", "status": "status", "suspend": "suspend",
    "chkpnt": "suspend", "resume": "resume", "restore": "resume", "quotaon": "quotaon",
    "quotaoff": "quotaoff", "quotainit": "quotainit",
}  # fmt: skip
NO_LOCK = {"exec", "exec2", "exec3", "enter", "console", "status"}


class Call:
    """What the operation log needs to know about this call."""

    def __init__(self) -> None:
        self.verb = ""
        self.ctid: int | None = None


def _usage(rc: int) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "data", "vzctl-usage.txt"), encoding="utf-8") as fh:
        text = f"vzctl version {VERSION}\n" + fh.read()
    (Log.raw_err if rc else Log.raw_out)(text)
    return rc


def _global_flags(args: list[str], log: Log) -> tuple[list[str], bool, bool] | int:
    """Leading --verbose/--quiet/--skiplock/--version; (rest, skiplock, verbose given)."""
    skiplock = verbose_given = False
    while args:
        if args[0] == "--verbose":
            log.verbose += 1
            verbose_given = True
        elif args[0] == "--quiet":
            log.quiet = True
        elif args[0] == "--version":
            Log.raw_out(f"vzctl version {VERSION}\n")
            return 0
        elif args[0] == "--skiplock":
            skiplock = True
        else:
            break
        args = args[1:]
    return args, skiplock, verbose_given


def _veid(node: Node, text: str) -> int:
    value = parse_int(text)
    if value is None:
        return node.veid_by_name(text)
    return value


def main(argv: list[str], state_dir: str) -> int:
    """Run one simulated vzctl command; returns its exit status."""
    raw_bytes_ok()
    call = Call()
    try:
        rc = _main(argv, state_dir, call)
    except BrokenPipeError:
        rc = VzctlExit.SYSTEM_ERROR
    if call.verb and call.verb not in NO_LOCK:
        oplog.append(
            os.path.join(state_dir, "oplog.jsonl"), "vzctl", call.verb, call.ctid, list(argv), rc
        )
    return rc


def _main(argv: list[str], state_dir: str, call: Call) -> int:
    log = Log()
    flags = _global_flags(list(argv[1:]), log)
    if isinstance(flags, int):
        return flags
    args, skiplock, verbose_given = flags
    if not args:
        return _usage(VzctlExit.INVALID_PARAMETER_SYNTAX)
    if args[0] == "--help":
        return _usage(0)
    action = COMMANDS.get(args[0])
    if action is None:
        Log.raw_err(f"Bad command: {args[0]}\n")
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    call.verb = action
    if len(args) < 2:
        Log.raw_err("CT ID missing\n")
        return VzctlExit.INVALID_PARAMETER_VALUE
    if action == "status":
        log.verbose, verbose_given = -1, True
    node = Node(state_dir, lambda message: log(-1, message))
    veid = _veid(node, args[1])
    if veid < 0 or veid > codes.VEID_MAX:
        Log.raw_err(f"Bad CT ID {args[1]}\n")
        return VzctlExit.INVALID_PARAMETER_VALUE
    call.ctid = veid
    if not verbose_given:
        log.verbose = parse_int(node.setting("VERBOSE", "0")) or 0
    from vzsim import commands

    parsed = commands.parse(action, argv[0], args[2:], veid, log)
    if isinstance(parsed, int):
        return parsed
    if veid == 0 and action != "set":
        Log.raw_err("Only set actions are allowed for CT0\n")
        return VzctlExit.INVALID_PARAMETER_VALUE
    ctx = Ctx(node, log, veid, action, argv[0], None)
    ctx.reload()
    rc = _find(ctx, args[1])
    if rc:
        return rc
    return _locked(ctx, skiplock, lambda: commands.run(ctx, parsed, args[2:]))


def _find(ctx: Ctx, given: str) -> int:
    """The config must exist (except for create/status/set); a name must match NAME."""
    if ctx.ct is not None:
        name = ctx.ct.get("NAME")
        if parse_int(given) is None and isinstance(name, str) and name != given:
            ctx.log(-1, f"Unable to find container by name {given}")
            return VzctlExit.INVALID_PARAMETER_VALUE
        return 0
    if ctx.action not in ("create", "status", "set"):
        ctx.log(-1, "Container config file does not exist")
        return VzctlExit.NOVECONFIG
    return 0


def _fault(ctx: Ctx) -> faults.Decision | int:
    decision = faults.decide(ctx.node.faults_path, ctx.action, ctx.veid)
    if decision is None or decision.fail is None:
        return decision or faults.Decision()
    if decision.fail == VzctlExit.LOCKED:
        holder = f"/usr/sbin/vzctl --skiplock {ctx.action} {ctx.veid}"
        ctx.log(-1, f"Locked by: pid {os.getpid() + 1}, cmdline {holder}")
        ctx.log(-1, "Container already locked")
    else:
        ctx.log(
            -1, f"vzctl: simulated failure (exit {decision.fail}) injected by `vzgitops sim fault`"
        )
    return decision.fail


def _locked(ctx: Ctx, skiplock: bool, run: Callable[[], int]) -> int:
    """run_action(): take the lock unless exempt, honour faults, run, unlock."""
    decision = _fault(ctx)
    if isinstance(decision, int):
        return decision
    take = ctx.action not in NO_LOCK and not skiplock
    if take:
        got = lock.acquire(ctx.node.lock_dir, ctx.veid, ctx.log)
        if got != lock.ACQUIRED:
            ctx.log(
                -1, "Container already locked" if got == lock.LOCKED else "Unable to lock container"
            )
            return VzctlExit.LOCKED if got == lock.LOCKED else VzctlExit.SYSTEM_ERROR
    try:
        _delay(decision)
        return run()
    finally:
        sys.stdout.flush()
        if take:
            lock.release(ctx.node.lock_dir, ctx.veid)


def _delay(decision: faults.Decision) -> None:
    if decision.latency:
        time.sleep(decision.latency)
    while decision.hang:
        time.sleep(3600)
