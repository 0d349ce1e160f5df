"""`make bench` (after benchmarks.dump): the simulated vzmigrate of a stopped container with a
200 MiB private area against a plain `rsync -aH` of the same directory over the same ssh, side
by side in one run (interleaved, median of --runs).

    .venv/bin/python -m benchmarks.migrate [--mib 200] [--runs 3] [--workdir DIR] [--out FILE]

Two simulated nodes, each behind a real sshd on 127.0.0.1 and each with an ssh client config
for the other (`vzsim.sshd.write_client_config`), so the container moves back and forth: every
round moves it with `vzmigrate --ssh-mux` (4.x's multiplexed ssh: one connection for the ~10
remote steps and the rsync), copies its private area with `rsync -aH` through the same ssh
config to a scratch dir on the other node, then moves it with plain `vzmigrate` (a new ssh
connection per step, 4.x's default). The private area is random bytes in 4 files; the nodes live
on tmpfs (/dev/shm) when it has 2 GiB free. The target is
vzmigrate --ssh-mux <= 1.3x rsync; the default's ratio is shown beside it. The result is also
written into --out (BENCHMARKS.md, which benchmarks.run has just regenerated) as the section
SECTION, replacing an older one. Exits 1 if a command fails or the data does not arrive intact.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.measure import timed

TARGET = 1.3
SECTION = "## Moving a container: vzmigrate vs rsync"
HOW = "## How it is measured"
MIB = 1 << 20
FILES = 4


def _fill(private: Path, mib: int) -> str:
    """Random bytes in FILES files under srv/data; their digest."""
    data = private / "srv" / "data"
    data.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open("/dev/urandom", "rb") as random:
        for i in range(FILES):
            chunk = random.read(mib * MIB // FILES)
            (data / f"blob{i}.bin").write_bytes(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _digest(private: Path) -> str:
    digest = hashlib.sha256()
    for i in range(FILES):
        digest.update((private / "srv" / "data" / f"blob{i}.bin").read_bytes())
    return digest.hexdigest()


def _nodes(work: Path) -> tuple[list[Path], list[Any]]:
    from vzsim import sshd
    from vzsim.nodeinit import init_node

    keys = sshd.ClientKeys.create(work / "keys")
    roots = [Path(init_node(str(work / name), [])) for name in ("laptop", "server")]
    servers = [sshd.start(root, keys) for root in roots]
    sshd.write_client_config(roots[0], keys, {"peer": servers[1]})
    sshd.write_client_config(roots[1], keys, {"peer": servers[0]})
    return roots, servers


def _migrate(src: Path, *flags: str) -> float:
    return timed([str(src / "bin" / "vzmigrate"), *flags, "peer", "101"])


def _plain(src: Path, dst: Path) -> float:
    """rsync -aH of the private area to the other node, through the same ssh config."""
    target = dst / "plain"
    shutil.rmtree(target, ignore_errors=True)
    shell = f"ssh -F {src / 'etc' / 'ssh_config'} -o BatchMode=yes"
    argv = ["rsync", "-aH", "-e", shell, f"{src / 'private' / '101'}/", f"peer:{target}/"]
    seconds = timed(argv)
    shutil.rmtree(target)
    return seconds


def measure(roots: list[Path], runs: int, digest: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"mux": [], "rsync": [], "default": []}
    here = 0
    for _ in range(runs):
        times["mux"].append(_migrate(roots[here], "--ssh-mux"))
        here = 1 - here
        times["rsync"].append(_plain(roots[here], roots[1 - here]))
        times["default"].append(_migrate(roots[here]))
        here = 1 - here
        if _digest(roots[here] / "private" / "101") != digest:
            sys.exit("the private area did not arrive intact")
    return times


def _tmpfs() -> Path | None:
    """The tmpfs when it has room (as for benchmarks.run's nodes): the disk's write-back
    otherwise swamps what is measured, by either command."""
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp under it, not a fixed file name
    if shm.is_dir() and shutil.disk_usage(shm).free > 2 << 30:
        return shm
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.migrate", description=__doc__)
    p.add_argument("--mib", type=int, default=200, help="size of the private area (200)")
    p.add_argument("--runs", type=int, default=3, help="rounds (3)")
    p.add_argument("--workdir", type=Path, default=None, help="where the nodes live (/dev/shm)")
    p.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="markdown report")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vzgitops-migrate-", dir=args.workdir or _tmpfs()))
    servers: list[Any] = []
    try:
        roots, servers = _nodes(work)
        create = [str(roots[0] / "bin" / "vzctl"), "create", "101", "--ostemplate", "centos-6-x86"]
        subprocess.run(create, check=True, capture_output=True)
        digest = _fill(roots[0] / "private" / "101", args.mib)
        times = measure(roots, args.runs, digest)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    _print(args, median)
    if args.out.exists():
        _write(args.out, _section(args, median))
    return 0


def _print(args: argparse.Namespace, median: dict[str, float]) -> None:
    mux, plain, default = median["mux"], median["rsync"], median["default"]
    verdict = "met" if mux / plain <= TARGET else "MISSED"
    print(f"moving a stopped container, {args.mib} MiB private area, median of {args.runs}:")
    print(f"  vzmigrate --ssh-mux (simulated) {mux:7.2f} s  {mux / plain:5.2f}x")
    print(f"  vzmigrate (simulated)           {default:7.2f} s  {default / plain:5.2f}x")
    print(f"  rsync -aH over the same ssh     {plain:7.2f} s")
    print(f"  target: vzmigrate --ssh-mux <= {TARGET}x rsync: {verdict}")


def _section(args: argparse.Namespace, median: dict[str, float]) -> str:
    mux, plain, default = median["mux"], median["rsync"], median["default"]
    verdict = "met" if mux / plain <= TARGET else "missed"
    return "\n".join([
        SECTION, "",
        "| moving | runs | vzmigrate --ssh-mux | vzmigrate | rsync -aH | ratio (--ssh-mux) "
        "| ratio (default) | target |",
        "|---|---|---|---|---|---|---|---|",
        f"| stopped CT, {args.mib} MiB private area | {args.runs} | {mux:.2f} s | {default:.2f} s "
        f"| {plain:.2f} s | {mux / plain:.2f}x | {default / plain:.2f}x "
        f"| <= {TARGET}x: {verdict} |",
        "",
        "`python -m benchmarks.migrate`: two simulated nodes behind real sshds on 127.0.0.1, the "
        "container moved back and forth by the simulated vzmigrate (with and without 4.x's "
        "--ssh-mux) interleaved with a plain `rsync -aH` of its private area over the same ssh "
        "config; medians; nodes on tmpfs.",
        "", "",
    ])  # fmt: skip


def _write(path: Path, section: str) -> None:
    """Replace the section in the report (or put it before HOW, or at the end)."""
    text = path.read_text(encoding="utf-8")
    start = text.find(SECTION)
    if start >= 0:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    elif HOW in text:
        at = text.index(HOW)
        text = text[:at] + section + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
