"""Per-command option parsing and dispatch for the simulated vzctl (parse_action_opt()).

`parse` mirrors vzctl-actions.c: getopt errors exit 21 for set/create and 20 for
start/stop, `Bad parameter for --X: V` is 21, stray arguments are 20. `run` calls the command
implementation once the lock is held.
"""

from __future__ import annotations

from reconciler.vzexit import VzctlExit
from vzsim import getopt, lifecycle
from vzsim.ctx import Ctx
from vzsim.output import Log
from vzsim.setparams import (
    CREATE_PARSERS,
    INVAL,
    OTHER,
    SET_PARSERS,
    UNSUPPORTED,
    Request,
    apply,
    longopts,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from vzsim.setparams import Parser

PARAM_LINE = "e:p:f:t:i:l:k:a:b:n:x:h"
_START = ("force", "skip_ve_setup", "wait", "skip-fsck", "skip-remount")
_STOP = ("fast", "skip-umount")
_NOT_SUPPORTED = {"runscript", "suspend", "resume", "quotaon", "quotaoff", "quotainit"}
Parsed = Request | set[str] | list[str] | None


def _extra(operands: list[str]) -> int:
    if not operands:
        return 0
    Log.raw_err("Invalid extra arguments: " + "".join(a + " " for a in operands) + "\n")
    return VzctlExit.INVALID_PARAMETER_SYNTAX


def _options(prog: str, args: list[str], parsers: dict[str, Parser], log: Log) -> Request | int:
    """parse_opt(): each option in order; the first bad value stops with exit 21."""
    parsed = getopt.parse(prog, args, PARAM_LINE, longopts(parsers))
    req = Request()
    for val, arg, name in parsed.opts:
        if len(val) == 1:
            log(-1, f"Invalid option -{val}")
            return VzctlExit.INVALID_PARAMETER_SYNTAX
        status = apply(parsers, req, val, arg, log)
        if status == INVAL:
            log(-1, f"Bad parameter for --{name}: {arg}")
            return VzctlExit.INVALID_PARAMETER_VALUE
        if status == OTHER:
            log(-1, "Error parsing options")
            return VzctlExit.SYSTEM_ERROR
        if status == UNSUPPORTED:
            log(-1, f"Option --{name} is not supported by the vzgitops simulator")
            return VzctlExit.INVALID_PARAMETER_SYNTAX
    if parsed.error:
        Log.raw_err(parsed.error)
        return VzctlExit.INVALID_PARAMETER_VALUE
    return _extra(parsed.operands) or req


def _startstop(prog: str, args: list[str], action: str) -> set[str] | int:
    allowed = {"start": _START, "stop": _STOP, "restart": _START + _STOP}[action]
    table = [getopt.LongOpt(n, getopt.NO_ARG, n) for n in _START + _STOP]
    parsed = getopt.parse(prog, args, "", table)
    opts: set[str] = set()
    for val, _, name in parsed.opts:
        if val not in allowed:
            Log.raw_err(f"Option --{name} is not applicable to {action} command\n")
            return VzctlExit.INVALID_PARAMETER_SYNTAX
        opts.add(val)
    if parsed.error:
        Log.raw_err(parsed.error)
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    return _extra(parsed.operands) or opts


def _enter(args: list[str]) -> Parsed | int:
    if not args:
        return None
    if args[0] != "--exec":
        Log.raw_err(f"Invalid option '{args[0]}'\n")
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    if len(args) == 1 or args[1] == "":
        Log.raw_err("No command line given for --exec\n")
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    return None


def parse(action: str, prog: str, args: list[str], veid: int, log: Log) -> Parsed | int:
    """The parsed options of one command, or the exit status of a command-line error."""
    if action in ("set", "create"):
        return _options(prog, args, SET_PARSERS if action == "set" else CREATE_PARSERS, log)
    if action in ("start", "stop", "restart"):
        return _startstop(prog, args, action)
    if action in ("exec", "exec2", "exec3"):
        if not args:
            Log.raw_err("No command line given for exec\n")
            return VzctlExit.INVALID_PARAMETER_SYNTAX
        return list(args)
    if action == "enter":
        return _enter(args)
    if action == "runscript" and not args:
        Log.raw_err("Script not specified\n")
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    if action in ("console", "runscript", "suspend", "resume"):
        return None
    if args:
        Log.raw_err("Invalid options: " + "".join(a + " " for a in args) + "\n")
        return VzctlExit.INVALID_PARAMETER_SYNTAX
    return None


def run(ctx: Ctx, parsed: Parsed, args: list[str]) -> int:
    """Run one command with the lock held."""
    action = ctx.action
    if isinstance(parsed, Request):
        if action == "create":
            from vzsim.create import create

            return create(ctx, parsed)
        from vzsim.setcmd import vps_set

        return vps_set(ctx, parsed, len(args))
    if isinstance(parsed, set):
        handler = {"start": lifecycle.start, "stop": lifecycle.stop, "restart": lifecycle.restart}
        return handler[action](ctx, parsed)
    if isinstance(parsed, list):
        return lifecycle.execute(ctx, parsed)
    simple = {
        "mount": lifecycle.mount,
        "umount": lifecycle.umount,
        "destroy": lifecycle.destroy,
        "status": lifecycle.status,
    }
    if action in simple:
        return simple[action](ctx)
    return _unsupported(ctx)


def _unsupported(ctx: Ctx) -> int:
    if ctx.action in ("enter", "console") and not ctx.running():
        ctx.log(-1, "Container is not running")
        return VzctlExit.VE_NOT_RUNNING
    what = "has no terminal" if ctx.action in ("enter", "console") else "is not supported"
    ctx.log(-1, f"vzctl {ctx.action}: the vzgitops simulator {what}; use vzctl exec")
    return (
        VzctlExit.INVALID_PARAMETER_SYNTAX
        if ctx.action in _NOT_SUPPORTED
        else VzctlExit.SYSTEM_ERROR
    )
