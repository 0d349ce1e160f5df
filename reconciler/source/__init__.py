"""Git -> one immutable `Revision` (shell): the only package that talks to git.

- `names`: refs, shas, paths and URLs checked before they reach git (pure);
- `gitcmd`: every git process, hardened, through GitPython;
- `tree`: git's commit, tree and blob output parsed, and what is refused in a tree (pure);
- `history`: `LocalSource` and `Mirror` (read, locate, fetch, ancestry, signatures).
"""

from reconciler.source.gitcmd import GIT_ENV, git_argv
from reconciler.source.history import (
    Commit,
    LocalSource,
    Mirror,
    Revision,
    Source,
    open_source,
    read_revision,
)
from reconciler.source.names import (
    SHA_RE,
    is_url,
    redact,
    subject_of,
    validate_ref,
    validate_sha,
    validate_subpath,
    validate_url,
)
from reconciler.source.tree import DEFAULT_LIMITS, YAML_SUFFIXES, Limits, TreeProblem

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
    "git_argv",
    "is_url",
    "open_source",
    "read_revision",
    "redact",
    "subject_of",
    "validate_ref",
    "validate_sha",
    "validate_subpath",
    "validate_url",
]
