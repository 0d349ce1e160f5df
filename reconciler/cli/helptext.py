"""What `--help` and `--version` say: each subcommand's description, examples and exit codes.

`args.build_parser` calls `annotate` once the subcommands exist, so the texts live here and the
options stay where they are defined. `version_text` is what `vzgitops --version` prints.
"""

from __future__ import annotations

import argparse
import json
import platform
from importlib import metadata

_EXIT_COMMON = "0 done; 1 an error (message on stderr); 3 a bug; 64 usage; 130 interrupted"

# subcommand -> (description, examples, exit codes); examples are shell lines.
HELP: dict[str, tuple[str, tuple[str, ...], str]] = {
    "plan": (
        "Show what applying a revision of the repository would change on this node, without "
        "changing anything. With --base, plan a pull request: the head against the base.",
        (
            "vzgitops plan --repo /srv/ct-config",
            "vzgitops plan --repo . --ref main --detailed-exitcode",
            "vzgitops plan --repo . --out plan.json && vzgitops apply --plan-file plan.json",
            "vzgitops plan --repo . --base main --head feature --offline --format markdown",
        ),
        "0 no changes (or changes without --detailed-exitcode); 2 changes present with "
        "--detailed-exitcode or --base; 1 an error; 3 a bug; 64 usage; 130 interrupted",
    ),
    "apply": (
        "Make the node match a revision: plan, run the vzctl calls the plan holds, observe the "
        "node again and report whether it converged. Holds the node lock while it works.",
        (
            "vzgitops apply --repo /srv/ct-config --ref main",
            "vzgitops apply --repo . --prune --wait-lock",
            "vzgitops apply --repo . --plan-file plan.json",
        ),
        "0 applied (or nothing to do); 2 changes were present with --detailed-exitcode; "
        "4 applied, but held changes remain (the node does not match git); "
        "1 an error or not converged; 3 a bug; 64 usage (also: a destroy or recreate to confirm "
        "and no terminal nor --yes); 75 the node lock is held; 130 interrupted",
    ),
    "validate": (
        "Validate the YAML documents of a revision without touching any node; every problem is "
        "named by file, line and field.",
        ("vzgitops validate --repo .", "vzgitops validate --repo . --ref HEAD~1 --format json"),
        "0 valid; 1 invalid or an error; 3 a bug; 64 usage; 130 interrupted",
    ),
    "drift": (
        "Compare the node with the revision last applied (or --ref): what changed by hand. With "
        "--adopt, commit the node's values of drifted fields to a new local branch.",
        (
            "vzgitops drift --repo /srv/ct-config",
            "vzgitops drift --repo . --format json",
            "vzgitops drift --repo . --adopt --branch adopt/ram-by-hand",
        ),
        "0 no drift (or drift adopted); 2 drift present; 1 an error; 3 a bug; 64 usage; "
        "130 interrupted",
    ),
    "schema": (
        "Write the JSON Schemas of the document kinds (Container, Node, Defaults), for editors "
        "and CI linters; with --fields, also the Markdown field reference (docs/FIELDS.md).",
        ("vzgitops schema --out schemas", "vzgitops schema --out schemas --fields docs/FIELDS.md"),
        _EXIT_COMMON,
    ),
    "import": (
        "Write one YAML document for each container on the node and take ownership of it, so a "
        "node that exists already can be brought under git. An existing file is kept unless "
        "--force is given.",
        (
            "vzgitops import --out containers",
            "vzgitops import --out containers --ctid 101 --ctid 102 --node hn1",
            "vzgitops import --out containers --force",
        ),
        _EXIT_COMMON + "; 75 the node lock is held",
    ),
    "adopt": (
        "Take ownership of containers already on the node (vzgitops never changes or destroys a "
        "container it does not own), confirm a rebuilt inventory, or forget a container.",
        (
            "vzgitops adopt 101 102",
            "vzgitops adopt --confirm",
            "vzgitops adopt --forget 103",
        ),
        _EXIT_COMMON + "; 75 the node lock is held",
    ),
    "run": (
        "The long-running controller: keep the nodes matching git. Polls (and optionally watches "
        "a local repository or serves a webhook), corrects or reports drift, serves metrics. "
        "With --node NAME, that node only (a per-node agent); without, every node reachable "
        "from here (access: ssh, and this machine's), each with its own state and backoff.",
        (
            "vzgitops run --repo https://git.example/ct-config.git --ref main",
            "vzgitops run --repo /srv/ct-config --node laptop",
            "vzgitops run --repo /srv/ct-config --watch --metrics-listen 127.0.0.1:9480",
            "vzgitops run --repo . --drift report --interval 5m",
        ),
        "0 stopped by SIGTERM/SIGINT; 1 could not start; 3 a bug; 64 usage; 75 another "
        "controller holds the state directory",
    ),
    "status": (
        "Show what 'vzgitops run' is doing: the last revision applied, held changes, drift and "
        "errors, from its state directory (a section per node of a central run).",
        ("vzgitops status", "vzgitops status --state-dir /var/lib/vzgitops --format json"),
        _EXIT_COMMON,
    ),
    "suspend": (
        "Hold the controller's changes on this node, or only on the given containers, until "
        "'vzgitops resume'. A running controller sees it at its next cycle; plans show the held "
        "changes as suspended.",
        (
            "vzgitops suspend",
            "vzgitops suspend 101 groupware-db",
            "vzgitops suspend --node server --state-dir /var/lib/vzgitops",
        ),
        _EXIT_COMMON,
    ),
    "resume": (
        "Lift what 'vzgitops suspend' holds: the whole node, or the given containers.",
        ("vzgitops resume", "vzgitops resume 101"),
        _EXIT_COMMON,
    ),
    "backup": (
        "Take a vzdump archive of owned containers now (all of them, or the given CTIDs), under "
        "the node lock.",
        (
            "vzgitops backup",
            "vzgitops backup 101 102 --mode stop",
        ),
        "0 every dump succeeded; 1 a dump failed or an error; 3 a bug; 64 usage (also: a CTID "
        "vzgitops does not own); 75 the node lock is held; 130 interrupted",
    ),
    "backups": (
        "List the vzdump archives on the node: CTID, time, size and file, by CTID, oldest first.",
        ("vzgitops backups", "vzgitops backups 101 --format json"),
        _EXIT_COMMON,
    ),
    "completion": (
        "Print a shell completion script generated from this parser. Load it in the current "
        "shell with eval, or install it where the shell looks for completions.",
        (
            'eval "$(vzgitops completion bash)"',
            "vzgitops completion zsh > ~/.zfunc/_vzgitops",
        ),
        "0 printed; 64 usage",
    ),
}

TOP_EPILOG = """\
Run 'vzgitops COMMAND --help' for a command's options, examples and exit codes.

exit codes:
  0 done, no changes; 1 an error; 2 changes or drift present (where asked);
  4 applied, but held changes remain; 3 a bug (a traceback is written); 64 usage; 75 the node lock is held; 130 interrupted
"""


def epilog(name: str) -> str:
    _, examples, codes = HELP[name]
    lines = ["examples:", *(f"  {line}" for line in examples), "", "exit codes:", f"  {codes}"]
    return "\n".join(lines) + "\n"


def annotate(parser: argparse.ArgumentParser) -> None:
    """Give the top parser and each documented subcommand its description and epilog."""
    parser.epilog = TOP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for name, sub in subcommands(parser).items():
        if name in HELP:
            sub.description = HELP[name][0]
            sub.epilog = epilog(name)
            sub.formatter_class = argparse.RawDescriptionHelpFormatter


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of `parser`, by name (none when it has no subcommands)."""
    for action in parser._actions:  # argparse has no public accessor for its subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


DEPENDENCIES = ("pydantic", "GitPython", "watchfiles", "tenacity", "prometheus_client")


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def build_commit() -> str:
    """The commit this installation was built from, as pip recorded it (PEP 610), if known."""
    try:
        text = metadata.distribution("vzgitops").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return "unknown"
    try:
        info = json.loads(text or "{}")
    except ValueError:
        return "unknown"
    commit = info.get("vcs_info", {}).get("commit_id") if isinstance(info, dict) else None
    if isinstance(commit, str) and commit:
        return commit
    return "unknown (not installed from a git URL)"


def version_text(version: str) -> str:
    lines = [f"vzgitops {version}", f"commit: {build_commit()}"]
    lines += [f"{name}: {_installed(name)}" for name in DEPENDENCIES]
    lines.append(f"python: {platform.python_version()} ({platform.python_implementation()})")
    return "\n".join(lines)


class VersionAction(argparse.Action):
    """`--version`: the version, the commit and the dependencies' versions, then exit 0."""

    def __init__(self, option_strings: list[str], dest: str, version: str, **kw: object) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show versions and exit"
        )
        self.version = version

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text(self.version))
        parser.exit(0)
