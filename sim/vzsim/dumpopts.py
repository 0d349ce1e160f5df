"""The command line of the simulated `vzdump` (Getopt::Long style: `--opt V`, `--opt=V`, `-opt`).

Options from ../shared/openvz/REFERENCE.md section 11 that the simulated node can honour;
`--storage`, `--bwlimit`, `--ionice`, `--script`, `--mailto` and the rest are refused as
unknown options (a node with vzdump 1.2 but no PVE storage would also refuse `--storage`).
Defaults are vzdump.conf's (read_vzdump_defaults): mode snapshot, maxfiles 1, lockwait 180
minutes; the dump directory defaults to vz.conf's DUMPDIR. Used by `vzsim.vzdump`.
"""

from __future__ import annotations

import sys

USAGE = """usage: vzdump OPTIONS [--all | VMID...]

\t--exclude VMID\t\texclude VMID (assumes --all)
\t--stdexcludes\t\texclude temporary files and logs
\t--compress 0|1|gzip\tcompress dump file (gzip)
\t--dumpdir DIR\t\tstore resulting files in DIR
\t--maxfiles N\t\tmaximal number of backup files per VM
\t--lockwait MINUTES\tmaximal time to wait for the global lock
\t--stopwait MINUTES\tmaximal time to wait until a VM is stopped
\t--quiet\t\t\tbe quiet
\t--stop\t\t\tstop/start VM if running (--mode stop)
\t--suspend\t\tsuspend/resume VM when running (--mode suspend)
\t--snapshot\t\tuse LVM snapshot when running (--mode snapshot)
\t--mode stop|suspend|snapshot

"""
MODES = ("stop", "suspend", "snapshot")
_VALUED = {"mode", "compress", "dumpdir", "maxfiles", "lockwait", "stopwait", "exclude"}
_FLAGS = {"all", "quiet", "stdexcludes", "stop", "suspend", "snapshot"}
_NUMBERS = ("maxfiles", "lockwait", "stopwait")


class Options:
    """A parsed vzdump command line."""

    def __init__(self) -> None:
        self.mode = "snapshot"
        self.compress = False
        self.dumpdir: str | None = None
        self.maxfiles = 1
        self.lockwait = 180
        self.stopwait = 10
        self.quiet = self.all = self.stdexcludes = False
        self.exclude: list[int] = []
        self.vmids: list[int] = []


def usage(message: str = "") -> int:
    """print_usage() then exit(-1): status 255."""
    if message:
        sys.stderr.write(f"ERROR: {message}\n\n")
    sys.stderr.write(USAGE)
    sys.stderr.flush()
    return 255


def _split(args: list[str]) -> tuple[list[tuple[str, str | None]], list[str]] | int:
    """(option, value) pairs and operands; an int is the exit status of a usage error."""
    pairs: list[tuple[str, str | None]] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            operands.append(arg)
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if name not in _VALUED and name not in _FLAGS:
            sys.stderr.write(f"Unknown option: {name}\n")
            return usage()
        if name in _VALUED and not eq:
            if i >= len(args):
                sys.stderr.write(f"Option {name} requires an argument\n")
                return usage()
            value, i = args[i], i + 1
        pairs.append((name, value if name in _VALUED else None))
    return pairs, operands


def _number(name: str, value: str) -> int | str:
    if not value.isdigit():
        return f'Value "{value}" invalid for option {name} (number expected)'
    return int(value)


def _apply(opts: Options, name: str, value: str | None) -> str | None:
    """Set one option; an error message when its value is not acceptable."""
    if value is None:
        if name in MODES:
            opts.mode = name
        else:
            setattr(opts, name, True)
        return None
    if name == "mode" and value not in MODES:
        return f"unknown backup mode '{value}'"
    if name == "compress" and value not in ("0", "1", "gzip"):
        return "unable to find command 'lzop'" if value == "lzo" else f"unknown compress '{value}'"
    if name in _NUMBERS or name == "exclude":
        number = _number(name, value)
        if isinstance(number, str):
            return number
        if name == "exclude":
            opts.exclude.append(number)
        else:
            setattr(opts, name, number)
        return None
    if name == "mode":
        opts.mode = value
    elif name == "compress":
        opts.compress = value != "0"
    else:
        opts.dumpdir = value.rstrip("/") or "/"
    return None


def check_vmids(texts: list[str]) -> list[int] | str:
    """VZDump::check_vmids(): digits only, leading zeros dropped, none below 100."""
    vmids = []
    for text in texts:
        if not text.isdigit():
            return f"ERROR: strange VM ID '{text}'"
        if int(text) < 100:
            return f"ERROR: got reserved VM ID '{int(text)}'"
        vmids.append(int(text))
    return vmids


def parse(args: list[str]) -> Options | int:
    """The options, or the exit status after a message on stderr."""
    split = _split(args)
    if isinstance(split, int):
        return split
    opts = Options()
    for name, value in split[0]:
        error = _apply(opts, name, value)
        if error is not None:
            sys.stderr.write(error + "\n")
            return usage() if not error.startswith("unable") else 255
    vmids = check_vmids(split[1])
    if isinstance(vmids, str):
        sys.stderr.write(vmids + "\n")
        return 255
    opts.vmids = vmids
    opts.all = opts.all or (bool(opts.exclude) and not vmids)
    if not opts.all and not vmids:
        return usage("no VMID specified")
    return opts
