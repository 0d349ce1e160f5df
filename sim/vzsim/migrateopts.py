"""The command line of the simulated `vzmigrate` (4.x bin/vzmigrate.in), parsed like its getopt.

`parse(argv)` returns the options, or the exit status when the call ends here: `--help` (usage
on stdout, 0) or a bad usage ("Invalid usage: ..." on stderr, 1). Values are checked before
anything runs: the destination is `[user@]host` of host-name characters, the CTID a number or a
container name, and `--ssh`/`--rsync` options hold no quotes, backslashes or control characters
(they are split on blanks, as the shell script's unquoted `$SSH_OPTIONS` is). Called by
`vzsim.vzmigrate.main`.
"""

from __future__ import annotations

import sys

from reconciler.vzexit import VzmigrateExit
from vzsim import getopt

MIG_ERR_USAGE = VzmigrateExit.USAGE
_LONG = [
    getopt.LongOpt("live", getopt.NO_ARG, "online"),
    getopt.LongOpt("online", getopt.NO_ARG, "online"),
    getopt.LongOpt("remove-area", getopt.REQUIRED, "r"),
    getopt.LongOpt("keep-dst", getopt.NO_ARG, "keep-dst"),
    getopt.LongOpt("compact", getopt.NO_ARG, "c"),
    getopt.LongOpt("snapshot", getopt.NO_ARG, "s"),
    getopt.LongOpt("check-only", getopt.NO_ARG, "dry-run"),
    getopt.LongOpt("dry-run", getopt.NO_ARG, "dry-run"),
    getopt.LongOpt("ssh", getopt.REQUIRED, "ssh"),
    getopt.LongOpt("rsync", getopt.REQUIRED, "rsync"),
    getopt.LongOpt("times", getopt.NO_ARG, "t"),
    getopt.LongOpt("ssh-mux", getopt.NO_ARG, "ssh-mux"),
    getopt.LongOpt("help", getopt.NO_ARG, "h"),
    getopt.LongOpt("usage", getopt.NO_ARG, "h"),
]
_SHORT = "vr:csth"
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+_.")

USAGE = """This program is used for container migration to another node.
Usage:
  vzmigrate [option ...] destination_address <CTID>
Options:
-r, --remove-area yes|no
	Whether to remove container on source host after successful migration.
--ssh=<ssh options>
	Additional options that will be passed to ssh while establishing
	connection to destination host. Please be careful with options
	passed, DO NOT pass destination hostname.
--ssh-mux
	Use ssh connection multiplexing (speeds up live migration).
--rsync=<rsync options>
	Additional options that will be passed to rsync.
--keep-dst
	Do not clean synced destination container private area in case of some
	error.
--live, --online
	Perform live migration (the simulated kernel cannot checkpoint: the
	container is stopped for the second sync and started on the destination).
--check-only, --dry-run
	Do not perform actual migration, stop after preliminary checks.
-v
	Verbose mode. Multiple -v options increase the verbosity.
"""


class Options:
    """One vzmigrate call: flags, `[user@]host` and the CTID (or name) as given."""

    def __init__(self) -> None:
        self.online = self.keep_dst = self.dry_run = self.ssh_mux = False
        self.remove_area = True
        self.verbose = 0
        self.ssh: list[str] = []
        self.rsync: list[str] = []
        self.host = ""
        self.ct = ""


def bad_usage(detail: str) -> int:
    sys.stderr.write(
        f"Invalid usage{detail}\n\nFor command line syntax, please check\n"
        "  vzmigrate --help\n  man vzmigrate\n"
    )
    return MIG_ERR_USAGE


def _words(text: str, what: str) -> list[str] | None:
    """Blank-separated options; None if any character could change how they are read."""
    if any(c in "\"'\\`$;&|<>(){}*?!#~" or ord(c) < 32 or ord(c) == 127 for c in text):
        return None
    return text.split()


def _apply(opts: Options, val: str, arg: str, name: str) -> str | None:
    """One option; an error detail for bad_usage, or None."""
    if val == "online":
        opts.online = True
    elif val == "v":
        opts.verbose += 1
    elif val == "r":
        if arg not in ("yes", "no"):
            return f": bad argument for {'-r' if name == 'r' else '--' + name}: {arg}"
        opts.remove_area = arg == "yes"
    elif val in ("keep-dst", "dry-run", "ssh-mux"):
        setattr(opts, val.replace("-", "_"), True)
    elif val in ("ssh", "rsync"):
        words = _words(arg, val)
        if words is None:
            return f": --{val} options must not hold quotes, backslashes or shell characters"
        getattr(opts, val).extend(words)
    return None


def _valid_host(text: str) -> bool:
    user, _, host = text.rpartition("@")
    if not host or host.startswith("-") or not set(host) <= _HOST_CHARS:
        return False
    return not user or (not user.startswith("-") and set(user) <= _NAME_CHARS)


def _operands(opts: Options, operands: list[str]) -> str | None:
    if len(operands) < 2:
        return ": not enough parameters"
    if len(operands) > 2:
        return f": too many parameters: {' '.join(operands)}"
    opts.host, opts.ct = operands
    if not _valid_host(opts.host):
        return f": bad destination address: {opts.host}"
    if not opts.ct or not set(opts.ct) <= _NAME_CHARS:
        return f": bad CTID: {opts.ct}"
    return None


def parse(argv: list[str]) -> Options | int:
    """The options of `vzmigrate ARGS` (argv without the program), or the exit status."""
    if not argv:
        sys.stdout.write(USAGE)
        return 0
    parsed = getopt.parse("vzmigrate", argv, _SHORT, _LONG)
    if parsed.error is not None:
        sys.stderr.write(parsed.error)
        return bad_usage("")
    opts = Options()
    for val, arg, name in parsed.opts:
        if val == "h":
            sys.stdout.write(USAGE)
            return 0
        problem = _apply(opts, val, arg, name)
        if problem is not None:
            return bad_usage(problem)
    problem = _operands(opts, parsed.operands)
    return bad_usage(problem) if problem is not None else opts
