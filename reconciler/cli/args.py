"""The command line of `vzgitops`: every subcommand, option and default (argparse; pure).

`build_parser` is the whole interface; `cli.run` parses with it and dispatches to `commands`.
A usage mistake raises `UsageError` (exit 64) instead of argparse's own exit.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from reconciler import __version__
from reconciler.cli.helptext import VersionAction, annotate
from reconciler.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--repo",
        default=".",
        help="git repository: a local path or a URL (default: the current directory)",
    )
    p.add_argument(
        "--ref",
        default=None,
        help="branch, tag or commit (default: HEAD / the remote's default branch)",
    )
    p.add_argument(
        "--path", default="", help="subdirectory of the repository that holds the YAML files"
    )


def _node_options(p: argparse.ArgumentParser, several: bool = False) -> None:
    p.add_argument(
        "--state-dir",
        default=None,
        help="state directory (default $VZGITOPS_STATE_DIR or /var/lib/vzgitops)",
    )
    p.add_argument(
        "--vz-conf-dir",
        default=None,
        help="container config directory (default $VZGITOPS_VZ_CONF_DIR or /etc/vz/conf)",
    )
    if several:
        p.add_argument(
            "--node",
            action="append",
            default=None,
            metavar="NAME",
            help="a node (repeatable; default $VZGITOPS_NODE, else every node reachable from here: the ones with access: ssh and this machine's)",
        )
    else:
        p.add_argument("--node", default=None, help="the node (default $VZGITOPS_NODE)")


def _ssh_config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ssh-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="an ssh_config file for nodes with access: ssh (passed to ssh as -F)",
    )


def _reach_options(p: argparse.ArgumentParser) -> None:
    """How a command that works on one node reaches a node that is not this machine: the
    repository declares it (its Node document: access, ssh host and key)."""
    p.add_argument(
        "--repo",
        default=None,
        help="with --node: the git repository whose Node says how to reach it (default: none, "
        "this machine)",
    )
    p.add_argument("--ref", default=None, help="with --repo: branch, tag or commit")
    p.add_argument("--path", default="", help="with --repo: the subdirectory of the YAML files")
    _ssh_config_option(p)


def _fleet_options(p: argparse.ArgumentParser) -> None:
    _ssh_config_option(p)
    p.add_argument(
        "--parallel",
        type=int,
        default=8,
        metavar="N",
        help="plan, apply or check at most N nodes at once (default 8)",
    )


def _plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--prune",
        action="store_true",
        help="destroy owned containers that git removed or marks absent",
    )
    p.add_argument(
        "--allow-mass-destroy",
        action="store_true",
        help="allow destroying more than max(1, 10%%) of the owned containers",
    )
    p.add_argument(
        "--ignore-windows",
        action="store_true",
        help="run restarts, recreates, stops and destroys outside maintenance windows (emergencies)",
    )
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when changes or held changes are present, 0 when none",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="CTID",
        help="plan only this container, by CTID or name (repeatable): a partial plan",
    )
    _dump_options(p)


def dump_dir(text: str) -> str:
    """--dump-dir: an absolute path on the node, no control characters (it reaches vzdump)."""
    if not text.startswith("/") or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an absolute directory path without control characters"
        )
    return text


def _dump_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-dump-before-destroy",
        dest="dump_before_destroy",
        action="store_false",
        help="destroy and recreate without taking a vzdump archive first (default: dump first)",
    )
    p.add_argument(
        "--dump-dir",
        type=dump_dir,
        default=None,
        metavar="DIR",
        help="where the dump before a destroy goes (vzdump --dumpdir; default: the node's DUMPDIR)",
    )
    p.add_argument(
        "--dump-keep",
        type=duration,
        default=7 * 86400.0,
        metavar="DURATION",
        help="delete a dump taken before a destroy after this long (default 168h)",
    )


def _pr_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base",
        default=None,
        help="pull-request plan: the branch merged into; exits 0 no changes, 2 changes, 1 error",
    )
    p.add_argument("--head", default=None, help="pull-request plan: the head (default: --ref)")
    p.add_argument(
        "--offline",
        action="store_true",
        help="with --base: plan against the base's desired state instead of the node",
    )


def _drift_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument(
        "--adopt",
        action="store_true",
        help="commit the node's values of drifted fields to a new branch (never pushed)",
    )
    p.add_argument("--branch", default=None, help="branch name for --adopt")


def ctid(text: str) -> int:
    """A container ID as vzdump takes one: digits, 100 or more (below are reserved)."""
    if not text.isdigit() or not 100 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a container ID (100 or more)")
    return int(text)


def _backup_parsers(sub: Any) -> None:
    p = sub.add_parser("backup", help="take a vzdump of owned containers now")
    _node_options(p)
    _reach_options(p)
    p.add_argument("ctids", type=ctid, nargs="*", metavar="CTID", help="default: every owned one")
    p.add_argument("--mode", choices=("stop", "suspend", "snapshot"), default="snapshot")
    p.add_argument(
        "--dump-dir", type=dump_dir, default=None, metavar="DIR", help="vzdump --dumpdir"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--wait-lock", action="store_true", help="wait for the node lock instead of exiting 75"
    )
    p = sub.add_parser("backups", help="list the vzdump archives on the node")
    _node_options(p)
    _reach_options(p)
    p.add_argument("ctids", type=ctid, nargs="*", metavar="CTID", help="default: all")
    p.add_argument("--dump-dir", type=dump_dir, default=None, metavar="DIR", help="where to look")
    p.add_argument("--format", choices=("text", "json"), default="text")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vzgitops", description="GitOps reconciler for OpenVZ containers.")
    parser.add_argument("--version", action=VersionAction, version=__version__)
    parser.add_argument(
        "--no-color", action="store_true", help="no colour (also: NO_COLOR set, or not a terminal)"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("plan", help="show what applying a revision would change")
    _source_options(p)
    _node_options(p, several=True)
    _fleet_options(p)
    _plan_options(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument(
        "--out", type=Path, default=None, help="save the plan to this file for 'apply --plan-file'"
    )
    _pr_options(p)

    p = sub.add_parser("apply", help="make the node match a revision")
    _source_options(p)
    _node_options(p, several=True)
    _fleet_options(p)
    _plan_options(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--plan-file",
        type=Path,
        default=None,
        help="apply this saved plan, only if it is still current",
    )
    p.add_argument(
        "--wait-lock", action="store_true", help="wait for the node lock instead of exiting 75"
    )
    p.add_argument(
        "--yes",
        "--auto-approve",
        dest="yes",
        action="store_true",
        help="destroy or recreate without asking (needed for such a plan when stdin is no terminal)",
    )
    p.add_argument(
        "--retry-attempts",
        type=int,
        default=6,
        help="attempts for transient vzctl failures (default 6)",
    )
    p.add_argument(
        "--retry-backoff",
        type=float,
        default=0.5,
        help="first backoff in seconds, doubled per attempt (default 0.5)",
    )

    p = sub.add_parser("validate", help="validate a revision without touching any node")
    _source_options(p)
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("drift", help="compare the node with the last applied revision")
    _source_options(p)
    _node_options(p, several=True)
    _fleet_options(p)
    _drift_options(p)

    p = sub.add_parser("schema", help="write the JSON Schemas of the document kinds")
    p.add_argument("--out", type=Path, default=Path("schemas"))
    p.add_argument(
        "--fields", type=Path, default=None, metavar="FILE", help="also write the field reference"
    )

    p = sub.add_parser("import", help="write YAML for the containers on the node and adopt them")
    _node_options(p)
    _reach_options(p)
    p.add_argument("--out", type=Path, required=True, help="directory to write the YAML files into")
    p.add_argument(
        "--ctid", type=int, action="append", default=None, help="only these containers (repeatable)"
    )
    p.add_argument("--force", action="store_true", help="overwrite YAML files that exist already")

    p = sub.add_parser("adopt", help="take ownership of containers already on the node")
    _node_options(p)
    _reach_options(p)
    p.add_argument("ctids", type=int, nargs="*", help="container IDs")
    p.add_argument(
        "--confirm", action="store_true", help="confirm an inventory rebuilt after it was lost"
    )
    p.add_argument(
        "--forget",
        type=int,
        action="append",
        default=[],
        metavar="CTID",
        help="stop owning a container destroyed or replaced by hand (repeatable)",
    )

    p = sub.add_parser("run", help="keep the nodes matching git: the long-running controller")
    _source_options(p)
    _node_options(p, several=True)
    _fleet_options(p)
    _run_options(p)

    for verb, what in (("suspend", "hold"), ("resume", "release")):
        p = sub.add_parser(verb, help=f"{what} the controller's changes, per node or container")
        p.add_argument("--state-dir", default=None, help="state directory of 'vzgitops run'")
        p.add_argument(
            "--node", default=None, help="only this node (default: the state directory's)"
        )
        p.add_argument("ctids", type=int, nargs="*", metavar="CTID", help="only these containers")

    p = sub.add_parser("status", help="show what 'vzgitops run' is doing")
    p.add_argument("--state-dir", default=None, help="state directory of 'vzgitops run'")
    p.add_argument("--format", choices=("text", "json"), default="text")

    _backup_parsers(sub)
    sub.add_parser(
        "sim", help="manage a simulated OpenVZ node (see 'vzgitops sim --help')", add_help=False
    )

    p = sub.add_parser("completion", help="print a shell completion script (bash or zsh)")
    p.add_argument("shell", choices=("bash", "zsh"))
    annotate(parser)
    return parser


# The longest interval or timeout accepted: a week. Longer values are typing mistakes, and past
# threading.TIMEOUT_MAX (about 292 years) a wait raises OverflowError instead of sleeping.
MAX_DURATION = 7 * 24 * 3600.0
MAX_DURATION_TEXT = "168h (7 days)"


def duration(text: str) -> float:
    """argparse `type=` for the run intervals; named like the parser it defers to, for its errors.

    A value over `MAX_DURATION` is a usage error that argparse reports with the option's name.
    Importing `reconciler.controller` is left to the commands that use it.
    """
    from reconciler.controller.schedule import duration as parse

    seconds = parse(text)
    if not seconds <= MAX_DURATION:  # also catches inf, from a 400-digit number
        raise argparse.ArgumentTypeError(
            f"{text!r} is longer than the maximum duration, {MAX_DURATION_TEXT}"
        )
    return seconds


def _run_options(p: argparse.ArgumentParser) -> None:
    add = p.add_argument
    add("--prune", action="store_true", help="destroy owned containers git removed")
    add("--allow-mass-destroy", action="store_true", help="allow destroying >max(1, 10%%)")
    add("--ignore-windows", action="store_true", help="disrupt outside maintenance windows")
    _dump_options(p)
    add("--interval", type=duration, default=60.0, metavar="DURATION", help="poll (60s, +-10%%)")
    add("--fetch-timeout", type=duration, default=60.0, metavar="DURATION", help="(60s)")
    add("--watch", action="store_true", help="reconcile when a local repository's refs change")
    add("--webhook-listen", metavar="ADDR:PORT", help="serve POST /webhook (host 127.0.0.1)")
    add("--webhook-secret-file", type=Path, metavar="FILE", help="file with the webhook secret")
    add("--metrics-listen", metavar="ADDR:PORT", help="serve /metrics and /healthz")
    add("--drift", choices=("correct", "report"), default="correct", help="drift: fix or report")
    add("--drift-interval", type=duration, default=300.0, metavar="DURATION", help="(5m; 0 off)")
    add("--allow-rewrite", action="store_true", help="apply a tip that rewrote applied history")
    add("--verify-signatures", action="store_true", help="apply only trusted-signed commits")
    add("--allowed-signers", type=Path, metavar="FILE", help="SSH allowed-signers file of keys")
    add("--gpg-home", type=Path, metavar="DIR", help="GnuPG home holding the trusted keys")
    add("--log-format", choices=("text", "json"), default="text", help="event lines on stderr")
    add("--notify-url", metavar="URL", help="POST each drift report's JSON to this URL")
