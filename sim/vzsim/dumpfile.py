"""The archives of the simulated `vzdump`/`vzrestore`: names, writing, reading.

vzdump (../shared/openvz/REFERENCE.md section 11) names an archive
`vzdump-openvz-CTID-YYYY_MM_DD-HH_MM_SS.tar` (`.tar.gz` compressed) and writes it as
`BASENAME.dat` first, renamed into place when complete: a killed dump leaves a `.dat`,
never a file under an archive name. The container's config travels inside the archive as
`./etc/vzdump/vps.conf` (its action scripts as `vps.start`, `vps.stop`, ...), next to the
private area's files. Used by `vzsim.vzdump` and `vzsim.vzrestore`.
"""

from __future__ import annotations

import os
import re
import tarfile
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

CONF_MEMBER = "./etc/vzdump/vps.conf"
SCRIPT_EXT = ("start", "stop", "mount", "umount")
ARCHIVE = re.compile(
    r"^vzdump-openvz-(\d+)-(\d{4})_(\d\d)_(\d\d)-(\d\d)_(\d\d)_(\d\d)\.(tar|tar\.gz|tgz)$"
)
ARCHIVE_SUFFIX = re.compile(r"\.(tar|tar\.gz|tgz)$")
GZIP_LEVEL = 6  # gzip's default, what `tar czf` uses


def basename(veid: int, now: float) -> str:
    stamp = time.strftime("%Y_%m_%d-%H_%M_%S", time.localtime(now))
    return f"vzdump-openvz-{veid}-{stamp}"


def extension(compress: bool) -> str:
    return ".tar.gz" if compress else ".tar"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(mtime)
    tar.addfile(info, io.BytesIO(data))


def _dir(tar: tarfile.TarFile, name: str, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(mtime)
    tar.addfile(info)


def write(
    path: str,
    private: str,
    config: dict[str, bytes],
    compress: bool,
    excluded: Callable[[str], bool],
    midway: Callable[[], None],
) -> None:
    """Archive `private` (as `.`) plus the `etc/vzdump/` files in `config` into `path`.

    `midway` runs once after the first member is written (where injected delays act, so a
    killed dump really leaves half an archive); `excluded(arcname)` drops --stdexcludes paths.
    """
    mode = "w:gz" if compress else "w"
    kwargs = {"compresslevel": GZIP_LEVEL} if compress else {}
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT, **kwargs) as tar:  # type: ignore[call-overload]
        tar.add(private, arcname=".", recursive=False)
        midway()
        for name in sorted(os.listdir(private)):
            tar.add(
                os.path.join(private, name),
                arcname=f"./{name}",
                filter=lambda info: None if excluded(info.name) else info,
            )
        now = time.time()
        _dir(tar, "./etc/vzdump", now)
        for member, data in config.items():
            _add_bytes(tar, f"./etc/vzdump/{member}", data, now)


def open_archive(path: str) -> tarfile.TarFile:
    """The archive, plain or gzip (tarfile detects which); raises tarfile.TarError or OSError."""
    return tarfile.open(path, "r:*")


def _ours(name: str) -> bool:
    return name.startswith("./etc/vzdump/vps.") or name == "./etc/vzdump"


def read_config(tar: tarfile.TarFile) -> dict[str, bytes]:
    """The `etc/vzdump/vps.*` files of an archive by suffix (`conf`, `start`, ...)."""
    found: dict[str, bytes] = {}
    for info in tar.getmembers():
        if info.isfile() and _ours(info.name):
            handle = tar.extractfile(info)
            if handle is not None:
                found[info.name.rsplit(".", 1)[-1]] = handle.read()
    return found


def extract(tar: tarfile.TarFile, dest: str) -> None:
    """Unpack everything but our `etc/vzdump/vps.*` into `dest`; nothing lands outside it."""
    members = [m for m in tar.getmembers() if not _ours(m.name)]
    if hasattr(tarfile, "tar_filter"):
        tar.extractall(dest, members=members, filter="tar")
        return
    safe = [m for m in members if (m.isfile() or m.isdir())
            and not m.name.startswith("/") and ".." not in m.name.split("/")]  # fmt: skip
    tar.extractall(dest, members=safe)  # noqa: S202 - members filtered above
