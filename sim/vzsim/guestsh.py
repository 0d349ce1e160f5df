"""A tiny busybox-like shell that runs `vzctl exec` command lines inside a simulated guest.

vzctl joins the exec arguments with spaces and runs `bash -c "<line>"` in the container; this
shell interprets that line against the guest's private area (never the host): `;`, `&&`,
`||`, `>&2`-style redirections, `sh -c`, and a few commands (echo, cat, hostname, true,
false, exit, sleep, test, ls, uname, id, pwd). Anything else is `/bin/sh: X: not found`
(status 127), as in a minimal guest.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

KERNEL_RELEASE = "2.6.32-042stab145.3"


class ShellExit(Exception):
    """`exit N` unwinds to the nearest `sh -c` or the top level."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Guest:
    """The filesystem and streams a command line runs against."""

    def __init__(self, private: str, out: TextIO, err: TextIO, stdin: TextIO) -> None:
        self.private = os.path.realpath(private)
        self.out, self.err, self.stdin = out, err, stdin
        self.status = 0

    def path(self, name: str) -> str | None:
        full = os.path.normpath(os.path.join(self.private, name.lstrip("/")))
        inside = full == self.private or full.startswith(self.private + os.sep)
        return full if inside else None

    def read(self, name: str) -> str | None:
        full = self.path(name)
        try:
            with open(full or "", encoding="utf-8", errors="surrogateescape") as fh:
                return fh.read()
        except OSError:
            return None

    def hostname(self) -> str:
        text = self.read("/etc/hostname") or ""
        return text.strip().split("\n")[0] or "localhost"


def _tokens(line: str) -> list[str]:
    import shlex

    lexer = shlex.shlex(line.replace("\n", " ; "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def run(line: str, guest: Guest) -> int:
    """Run one command line; returns its exit status."""
    try:
        words = _tokens(line)
    except ValueError:
        guest.err.write("/bin/sh: syntax error: unterminated quoted string\n")
        return 2
    try:
        _run_list(words, guest)
    except ShellExit as done:
        return done.status & 0xFF
    return guest.status


def _run_list(words: list[str], guest: Guest) -> None:
    cmd: list[str] = []
    skip = False
    for word in [*words, ";"]:
        if word not in (";", "&&", "||", "&"):
            cmd.append(word)
            continue
        if cmd and not skip:
            guest.status = _run_simple(cmd, guest)
        cmd = []
        skip = (word == "&&" and guest.status != 0) or (word == "||" and guest.status == 0)


def _redirect(cmd: list[str], guest: Guest) -> tuple[list[str], TextIO, TextIO]:
    out, err = guest.out, guest.err
    argv: list[str] = []
    i = 0
    while i < len(cmd):
        word = cmd[i]
        fd = "1"
        if word in ("1", "2") and i + 1 < len(cmd) and cmd[i + 1] in (">", ">&", ">>"):
            fd, i = word, i + 1
            word = cmd[i]
        if word in (">", ">>", ">&") and i + 1 < len(cmd):
            target = cmd[i + 1]
            stream = _target(word, target, guest)
            if fd == "2":
                err = stream
            else:
                out = stream
            i += 2
            continue
        argv.append(word)
        i += 1
    return argv, out, err


def _target(op: str, target: str, guest: Guest) -> TextIO:
    if op == ">&":
        return guest.err if target == "2" else guest.out
    if target == "/dev/null":
        return open(os.devnull, "w", encoding="utf-8")
    full = guest.path(target) or os.devnull
    return open(full, "a" if op == ">>" else "w", encoding="utf-8", errors="surrogateescape")


def _run_simple(cmd: list[str], guest: Guest) -> int:
    argv, out, err = _redirect(cmd, guest)
    if not argv:
        return 0
    sub = Guest(guest.private, out, err, guest.stdin)
    handler = COMMANDS.get(os.path.basename(argv[0]) if argv[0].startswith("/bin/") else argv[0])
    if handler is None:
        err.write(f"/bin/sh: {argv[0]}: not found\n")
        return 127
    status = handler(argv[1:], sub)
    for stream in (out, err):
        if stream not in (guest.out, guest.err, sys.stdout, sys.stderr):
            stream.close()
    return status


def _echo(args: list[str], g: Guest) -> int:
    newline = not (args and args[0] == "-n")
    g.out.write(" ".join(args[0 if newline else 1 :]) + ("\n" if newline else ""))
    return 0


def _cat(args: list[str], g: Guest) -> int:
    status = 0
    if not args:
        g.out.write(g.stdin.read())
    for name in args:
        text = g.read(name)
        if text is None:
            g.err.write(f"cat: can't open '{name}': No such file or directory\n")
            status = 1
        else:
            g.out.write(text)
    return status


def _sh(args: list[str], g: Guest) -> int:
    if len(args) >= 2 and args[0] == "-c":
        return run(args[1], Guest(g.private, g.out, g.err, g.stdin))
    return run(g.stdin.read(), g) if not args else _not_found(args[0], g)


def _not_found(name: str, g: Guest) -> int:
    g.err.write(f"/bin/sh: can't open '{name}': No such file or directory\n")
    return 127


def _exit(args: list[str], g: Guest) -> int:
    try:
        raise ShellExit(int(args[0]) if args else g.status)
    except ValueError:
        g.err.write(f"/bin/sh: exit: Illegal number: {args[0]}\n")
        raise ShellExit(2) from None


def _sleep(args: list[str], g: Guest) -> int:
    try:
        time.sleep(float(args[0]) if args else 0)
    except ValueError:
        g.err.write(f"sleep: invalid number '{args[0]}'\n")
        return 1
    return 0


def _test(args: list[str], g: Guest) -> int:
    args = args[:-1] if args and args[-1] == "]" else args
    if len(args) == 2 and args[0] in ("-e", "-f", "-d"):
        full = g.path(args[1]) or ""
        check = {"-e": os.path.exists, "-f": os.path.isfile, "-d": os.path.isdir}[args[0]]
        return 0 if check(full) else 1
    if len(args) == 2 and args[0] in ("-z", "-n"):
        return 0 if (args[1] == "") == (args[0] == "-z") else 1
    if len(args) == 3 and args[1] in ("=", "!="):
        return 0 if (args[0] == args[2]) == (args[1] == "=") else 1
    return 0 if len(args) == 1 and args[0] else 1


def _ls(args: list[str], g: Guest) -> int:
    status = 0
    for name in args or ["."]:
        full = g.path(name)
        if full is None or not os.path.exists(full):
            g.err.write(f"ls: {name}: No such file or directory\n")
            status = 1
        elif os.path.isdir(full):
            g.out.write("".join(f"{e}\n" for e in sorted(os.listdir(full))))
        else:
            g.out.write(f"{name}\n")
    return status


def _uname(args: list[str], g: Guest) -> int:
    fields = {"-n": g.hostname(), "-r": KERNEL_RELEASE, "-m": "x86_64", "-s": "Linux"}
    if "-a" in args:
        g.out.write(f"Linux {g.hostname()} {KERNEL_RELEASE} #1 SMP x86_64 GNU/Linux\n")
    else:
        g.out.write(" ".join(fields.get(a, "Linux") for a in args or ["-s"]) + "\n")
    return 0


COMMANDS: dict[str, Callable[[list[str], Guest], int]] = {
    "true": lambda a, g: 0,
    ":": lambda a, g: 0,
    "false": lambda a, g: 1,
    "echo": _echo,
    "cat": _cat,
    "sh": _sh,
    "bash": _sh,
    "exit": _exit,
    "sleep": _sleep,
    "test": _test,
    "[": _test,
    "ls": _ls,
    "uname": _uname,
    "hostname": lambda a, g: g.out.write(g.hostname() + "\n") and 0,
    "pwd": lambda a, g: g.out.write("/\n") and 0,
    "id": lambda a, g: g.out.write("uid=0(root) gid=0(root) groups=0(root)\n") and 0,
    "whoami": lambda a, g: g.out.write("root\n") and 0,
}
