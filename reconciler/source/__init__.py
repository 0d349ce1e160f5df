"""Git -> one immutable `Revision` (shell): the only package that talks to git.

- `names`: refs, shas, paths and URLs checked before they reach git (pure);
- `gitcmd`: every git process, hardened in one place (config, environment, transports, time);
- `tree`: git's commit, tree and blob output parsed, and what is refused in a tree (pure);
- `history`: `LocalSource` and `Mirror` (read, locate, fetch, ancestry, signatures);
- `write`: changed files as one commit on a new branch (`drift --adopt`), plumbing only.
"""

from reconciler.source.gitcmd import GIT_ENV, git_argv
from reconciler.source.history import (
    Commit,
    LocalSource,
    Mirror,
    Revision,
    Source,
    find_git_dir,
    open_source,
    read_revision,
)
from reconciler.source.names import (
    SHA_RE,
    is_url,
    redact,
    subject_of,
    validate_ref,
    validate_revision,
    validate_sha,
    validate_subpath,
    validate_url,
)
from reconciler.source.tree import DEFAULT_LIMITS, YAML_SUFFIXES, Limits, TreeProblem
from reconciler.source.write import commit_on_new_branch

__all__ = [
    "DEFAULT_LIMITS",
    "GIT_ENV",
    "SHA_RE",
    "YAML_SUFFIXES",
    "Commit",
    "Limits",
    "LocalSource",
    "Mirror",
    "Revision",
    "Source",
    "TreeProblem",
    "commit_on_new_branch",
    "find_git_dir",
    "git_argv",
    "is_url",
    "open_source",
    "read_revision",
    "redact",
    "subject_of",
    "validate_ref",
    "validate_revision",
    "validate_sha",
    "validate_subpath",
    "validate_url",
]
