"""`vzgitops backup [CTID...]` and `vzgitops backups [CTID...]` (shell; called by commands).

`backup` takes one vzdump of each named owned container now (every owned one when none is
named), under the node lock, so it never runs during an apply and never two at once from
vzgitops; a container vzgitops does not own is refused (a stop-mode dump stops it). `backups`
lists the complete archives in the node's dump directory: CTID, time, size, file. Each dump
is recorded in the node's state directory's backups.json, so the controller's schedule counts
from it. `--node NAME` reaches another node as the repository declares it (`cli.fleet.one_node`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from reconciler.cli.fleet import one_node
from reconciler.cli.steps import EXIT_ERROR, EXIT_OK
from reconciler.errors import CommandTimeout, UsageError
from reconciler.node.access import NodeAccess
from reconciler.node.dumps import Archive, Dump, list_archives, node_dump_dir, take


def _targets(args: argparse.Namespace, owned: frozenset[int]) -> list[int]:
    strangers = sorted(set(args.ctids) - owned)
    if strangers:
        listed = ", ".join(str(c) for c in strangers)
        raise UsageError(f"backup: container {listed} is not owned by vzgitops; nothing dumped")
    return sorted(set(args.ctids) or owned)


def _take(args: argparse.Namespace, access: NodeAccess, ctid: int) -> Dump:
    try:
        return take(access.run, ctid, args.mode, args.dump_dir)
    except CommandTimeout as error:
        return Dump(ctid, -1, None, str(error))


def _dump_line(dump: Dump) -> str:
    if dump.ok:
        return f"container {dump.ctid}: dumped to {dump.archive}"
    return f"container {dump.ctid}: vzdump failed (exit {dump.code}): {dump.detail or 'no output'}"


def cmd_backup(args: argparse.Namespace) -> int:
    from reconciler.state import node_lock

    member = one_node(args)
    state = member.state
    try:
        targets = _targets(args, state.load_inventory().owned)
        with node_lock(state, wait=args.wait_lock, what="vzgitops backup"):
            dumps = [_take(args, member.access, ctid) for ctid in targets]
            for dump in dumps:  # the controller's schedule counts from the last successful dump
                state.record_backup(dump.ctid, time.time(), dump.archive, dump.detail or None)
    finally:
        member.access.close()
    if args.format == "json":
        rows = [{"ctid": d.ctid, "ok": d.ok, "archive": d.archive, "error": d.detail or None}
                for d in dumps]  # fmt: skip
        print(json.dumps({"backups": rows}, indent=2))
    else:
        for dump in dumps:
            print(_dump_line(dump), file=sys.stdout if dump.ok else sys.stderr)
        if not dumps:
            print("no owned containers; nothing dumped")
    return EXIT_OK if all(d.ok for d in dumps) else EXIT_ERROR


def _size(size: int) -> str:
    for unit, scale in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}{unit}"
    return f"{size}B"


def _table(archives: list[Archive]) -> str:
    lines = [f"{'CTID':>6}  {'TIME':19}  {'SIZE':>7}  FILE"]
    lines += [f"{a.ctid:>6}  {a.taken:19}  {_size(a.size):>7}  {a.path}" for a in archives]
    return "\n".join(lines) + "\n"


def cmd_backups(args: argparse.Namespace) -> int:
    access = one_node(args).access
    try:
        where = node_dump_dir(access.run, access.conf_dir, args.dump_dir)
        archives = list_archives(access.run, where, frozenset(args.ctids) if args.ctids else None)
    finally:
        access.close()
    if args.format == "json":
        data = {"dump_dir": where, "archives": [a.as_dict() for a in archives]}
        print(json.dumps(data, indent=2))
    else:
        sys.stdout.write(_table(archives) if archives else f"no archives in {where}\n")
    return EXIT_OK
