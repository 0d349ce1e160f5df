"""GNU getopt_long() as glibc >= 2.26 behaves: permutation, `--opt=val`, unique prefixes.

vzctl and vzlist parse their options with getopt_long, so its error texts (`unrecognized
option '--x'`, `option '--x' requires an argument`, ambiguous prefixes) and its argument
permutation are part of the recorded behaviour. `parse` returns options in command-line
order; it stops at the first error the way the C callers do.
"""

from __future__ import annotations

NO_ARG, REQUIRED = 0, 1


class LongOpt:
    """One `struct option`: name, has_arg and the value returned (equal values alias)."""

    __slots__ = ("has_arg", "name", "val")

    def __init__(self, name: str, has_arg: int, val: str) -> None:
        self.name, self.has_arg, self.val = name, has_arg, val


class Parsed:
    """Options in order as (value, argument, matched name), operands, and the first error."""

    __slots__ = ("error", "operands", "opts")

    def __init__(self) -> None:
        self.opts: list[tuple[str, str, str]] = []
        self.operands: list[str] = []
        self.error: str | None = None


def _match_long(name: str, longopts: list[LongOpt]) -> tuple[LongOpt | None, list[LongOpt]]:
    exact = [o for o in longopts if o.name == name]
    if exact:
        return exact[0], []
    cands = [o for o in longopts if o.name.startswith(name)]
    if not cands:
        return None, []
    first = cands[0]
    if all(o.has_arg == first.has_arg and o.val == first.val for o in cands):
        return first, []
    return None, cands


def _long(prog: str, args: list[str], i: int, longopts: list[LongOpt], out: Parsed) -> int:
    body = args[i][2:]
    name, eq, value = body.partition("=")
    opt, ambiguous = _match_long(name, longopts)
    if ambiguous:
        names = "".join(f" '--{o.name}'" for o in ambiguous)
        out.error = f"{prog}: option '--{name}' is ambiguous; possibilities:{names}\n"
        return i + 1
    if opt is None:
        out.error = f"{prog}: unrecognized option '--{body}'\n"
        return i + 1
    if opt.has_arg == NO_ARG:
        if eq:
            out.error = f"{prog}: option '--{opt.name}' doesn't allow an argument\n"
        else:
            out.opts.append((opt.val, "", opt.name))
        return i + 1
    if eq:
        out.opts.append((opt.val, value, opt.name))
        return i + 1
    if i + 1 >= len(args):
        out.error = f"{prog}: option '--{opt.name}' requires an argument\n"
        return i + 1
    out.opts.append((opt.val, args[i + 1], opt.name))
    return i + 2


def _short(prog: str, args: list[str], i: int, shortopts: str, out: Parsed) -> int:
    cluster = args[i][1:]
    for pos, ch in enumerate(cluster):
        where = shortopts.find(ch)
        if where < 0 or ch == ":":
            out.error = f"{prog}: invalid option -- '{ch}'\n"
            return i + 1
        if shortopts[where + 1 : where + 2] != ":":
            out.opts.append((ch, "", ch))
            continue
        rest = cluster[pos + 1 :]
        if rest:
            out.opts.append((ch, rest, ch))
            return i + 1
        if i + 1 >= len(args):
            out.error = f"{prog}: option requires an argument -- '{ch}'\n"
            return i + 1
        out.opts.append((ch, args[i + 1], ch))
        return i + 2
    return i + 1


def parse(prog: str, args: list[str], shortopts: str, longopts: list[LongOpt]) -> Parsed:
    """Parse args (without argv[0]); non-options are permuted to `operands`."""
    out = Parsed()
    i = 0
    while i < len(args) and out.error is None:
        arg = args[i]
        if arg == "--":
            out.operands.extend(args[i + 1 :])
            break
        if arg.startswith("--"):
            i = _long(prog, args, i, longopts, out)
        elif arg.startswith("-") and arg != "-":
            i = _short(prog, args, i, shortopts, out)
        else:
            out.operands.append(arg)
            i += 1
    return out
