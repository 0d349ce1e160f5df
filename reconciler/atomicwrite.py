"""Replacing a file atomically: write a temp file beside it, then rename it over the file.

The one way vzgitops replaces a file, so a reader never sees half of one: the state directory
(`state.write_durably`, durable: fsync before and after the rename), the revision cache, and the
simulator's own files (kernel records, fault rules, and `CTID.conf` as vzctl writes it, through
`<file>.tmp`). Stdlib only and cheap to import: every simulated vzctl/vzlist process does.
"""

from __future__ import annotations

import os


def replace_file(
    path: str | os.PathLike[str], data: bytes, *, tmp: str | None = None, durable: bool = False
) -> None:
    """Write `data` to `tmp` (default `.<name>.<pid>.tmp` beside `path`), rename it over `path`.

    With `durable` the data is fsynced before the rename and the directory after it, so the new
    file survives a crash. On failure the temp file is removed, `path` is left as it was and the
    OSError is raised.
    """
    target = os.fspath(path)
    folder, name = os.path.split(target)
    tmp = tmp or os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        _write(tmp, data, durable)
        os.replace(tmp, target)
    except OSError:
        _remove(tmp)
        raise
    if durable:
        _fsync_dir(folder or ".")


def _write(tmp: str, data: bytes, durable: bool) -> None:
    with open(tmp, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(tmp: str) -> None:
    try:  # noqa: SIM105 - contextlib would cost import time on every simulated call
        os.unlink(tmp)
    except OSError:
        pass
