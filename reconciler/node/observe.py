"""Observing the live node: one `vzlist` call plus the container config files.

Shell part: `observe()` runs `vzlist -a -j -o <narrow fields>` once and reads `CTID.conf` files.
Pure part: `listed_values()` and `build_state()`; the values it builds (`ObservedState`)
are defined in the core, `plan/observed.py`. vzlist prints strings into its JSON without
escaping, so only fields that cannot carry free text are requested (no hostname, name,
description); free text comes from the config files. The JSON is parsed with duplicate keys
rejected; if it is still invalid, the text table of ctid and status is used instead and the
running values are marked unknown, never guessed.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import ObservationIncomplete, ObserveError
from reconciler.fields import UBC_COUNTERS, Canon, SavedMemo, saved_settings
from reconciler.node.process import Runner
from reconciler.node.vzconf import parse_conf
from reconciler.plan.observed import ObservedContainer, ObservedState, check_complete

if TYPE_CHECKING:
    from reconciler.node.access import NodeAccess

DEFAULT_CONF_DIR = "/etc/vz/conf"
CONF_DIR_ENV = "VZGITOPS_VZ_CONF_DIR"
RUNTIME_FIELDS = (
    "ctid", "status", "ip", "cpus", "cpulimit", "cpuunits", "physpages", "swappages",
    "diskspace", "diskinodes", *UBC_COUNTERS,
)  # fmt: skip
VZLIST_ARGV = ("vzlist", "-a", "-j", "-o", ",".join(RUNTIME_FIELDS))
FALLBACK_ARGV = ("vzlist", "-a", "-H", "-o", "ctid,status")
_CONF_NAME = re.compile(r"^([0-9]+)\.conf$")
_CHUNK = 65536


_Listed = tuple[str, dict[str, Canon] | None]  # status, live values when running
_Seen = dict[tuple[str, Canon], Canon]


class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"duplicate key {key!r}")
        result[key] = value
    return result


STATUSES = frozenset({"running", "stopped", "mounted", "suspended"})  # vzlist 4.x ve_status[]


def parse_vzlist_table(text: str) -> dict[int, str]:
    """`vzlist -H -o ctid,status` -> {ctid: status}; ValueError for any other line (a listing
    cut short ends in one: `102 sto`)."""
    result: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in STATUSES:
            raise ValueError(f"vzlist -H printed {line.strip()!r}, not a CTID and a status")
        result[int(parts[0])] = parts[1]
    return result


_LIMITS = (("ram", "physpages"), ("swap", "swappages"))
_PAIRS = (
    ("diskspace", "softlimit", "hardlimit"),
    ("diskinodes", "softlimit", "hardlimit"),
    *((name, "barrier", "limit") for name in UBC_COUNTERS),
)


def _pair(obj: Any, low: str, high: str) -> tuple[int, int] | None:
    """(obj[low], obj[high]) when both are integers and the second is not 0."""
    if isinstance(obj, dict):
        first, second = obj.get(low), obj.get(high)
        if isinstance(first, int) and isinstance(second, int) and second:
            return first, second
    return None


def running_settings(item: Mapping[str, Any]) -> dict[str, Canon]:
    """Live values of a running container, in the same canonical forms as the config."""
    values: dict[str, Canon] = {}
    for name in ("cpus", "cpulimit", "cpuunits"):
        value = item.get(name)
        if isinstance(value, int) and value != 0:
            values[name] = value
    for name, key in _LIMITS:
        obj = item.get(key)
        limit = obj.get("limit") if isinstance(obj, dict) else None
        if isinstance(limit, int) and limit:
            values[name] = limit
    for name, low, high in _PAIRS:
        pair = _pair(item.get(name), low, high)
        if pair:
            values[name] = pair
    if isinstance(item.get("ip"), list):
        values["ip_addresses"] = tuple(sorted(str(ip).split("/")[0] for ip in item["ip"]))
    return values


def read_configs(conf_dir: Path) -> dict[int, dict[str, str]]:
    """Every `CTID.conf` in a local config directory, parsed."""
    return configs_of(local_config_texts(conf_dir))


def read_saved(conf_dir: Path) -> dict[int, dict[str, Canon]]:
    """`saved_of` a local config directory."""
    return saved_of(local_config_texts(conf_dir))


def configs_of(texts: Iterable[tuple[int, str]]) -> dict[int, dict[str, str]]:
    """(ctid, CTID.conf text) pairs, parsed."""
    return {ctid: parse_conf(text) for ctid, text in texts}


def saved_of(texts: Iterable[tuple[int, str]]) -> dict[int, dict[str, Canon]]:
    """`saved_settings` of each `CTID.conf`; each raw config is let go as soon as it is read."""
    seen: SavedMemo = defaultdict(dict)
    return {ctid: saved_settings(parse_conf(text), ctid, seen) for ctid, text in texts}


def local_config_texts(conf_dir: Path) -> Iterator[tuple[int, str]]:
    """(ctid, text) of each `CTID.conf`, opened relative to the directory (no path to resolve)."""
    try:
        dir_fd = os.open(conf_dir, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError as exc:
        raise ObservationIncomplete(
            f"the container config directory {conf_dir} does not exist (set --vz-conf-dir or "
            f"${CONF_DIR_ENV} to the node's); nothing is planned for this node"
        ) from exc
    except OSError as exc:
        raise _unreadable(conf_dir, exc) from exc
    try:
        yield from _texts_in(dir_fd, conf_dir)
    finally:
        os.close(dir_fd)


def _unreadable(conf_dir: Path, exc: OSError) -> ObserveError:
    return ObserveError(f"cannot read the container config directory {conf_dir}: {exc.strerror}")


def _texts_in(dir_fd: int, conf_dir: Path) -> Iterator[tuple[int, str]]:
    try:
        names = os.listdir(dir_fd)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _unreadable(conf_dir, exc) from exc
    for name in names:
        match = _CONF_NAME.match(name)
        match = match if match and int(match.group(1)) != 0 else None  # 0.conf: the host's
        data = _read_file(name, dir_fd, conf_dir) if match else None
        if match and data is not None:
            yield int(match.group(1)), _decode(data)


def _read_file(name: str, dir_fd: int, conf_dir: Path) -> bytes | None:
    """The file's bytes, or None when it went away after the directory was listed; a file that
    is there but cannot be read (a directory in its place, EACCES, EIO) is an error."""
    try:
        return _read_fd(os.open(name, os.O_RDONLY, dir_fd=dir_fd))
    except FileNotFoundError:
        return None
    except OSError as exc:
        ctid = int(name.removesuffix(".conf"))
        raise ObservationIncomplete(
            f"cannot read {conf_dir / name} (container {ctid}): {exc.strerror}; "
            "nothing is planned until it can be read"
        ) from exc


def _read_fd(fd: int) -> bytes:
    try:
        chunks = []
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _decode(data: bytes) -> str:
    """Undecodable bytes replaced; line ends left as they are: vzctl ends a line at `\n` only
    (fgets), a `\r` is a blank to it (`vzconf`)."""
    return data.decode("utf-8", "replace")


def build_state(
    listed: Mapping[int, Mapping[str, Any]],
    configs: Mapping[int, Mapping[str, str]],
    running_known: bool = True,
    warnings: tuple[str, ...] = (),
) -> ObservedState:
    """Pure: vzlist objects (by ctid) and parsed configs -> ObservedState."""
    reduced = {ctid: _reduce(item, running_known) for ctid, item in listed.items()}
    seen: SavedMemo = defaultdict(dict)
    saved = {ctid: saved_settings(conf, ctid, seen) for ctid, conf in configs.items()}
    return _build(reduced, saved, running_known, warnings)


def _reduce(
    item: Mapping[str, Any], running_known: bool = True, seen: _Seen | None = None
) -> _Listed:
    """One vzlist object -> its status and, when running, its live values; the rest is dropped.

    `seen`, shared by the containers of one listing, holds each distinct live value once (a fleet
    mostly repeats them; they are immutable).
    """
    status = str(item.get("status", "stopped"))
    if not (running_known and status == "running"):
        return status, None
    live = running_settings(item)
    if seen is not None:
        live = {name: seen.setdefault((name, value), value) for name, value in live.items()}
    return status, live


def _build(
    listed: Mapping[int, _Listed],
    saved: Mapping[int, dict[str, Canon]],
    running_known: bool,
    warnings: tuple[str, ...],
) -> ObservedState:
    containers: dict[int, ObservedContainer] = {}
    for ctid in sorted(set(listed) | set(saved)):
        status, live = listed.get(ctid, ("stray", None))
        containers[ctid] = ObservedContainer(
            ctid=ctid,
            status=status,
            saved=saved[ctid] if ctid in saved else saved_settings({}, ctid),
            running=live,
            listed=ctid in listed,
            configured=ctid in saved,
        )
    return ObservedState(containers, running_known, warnings)


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def _skip(text: str, at: int) -> int:
    match = _WS.match(text, at)
    return match.end() if match else at


def listed_values(text: str) -> dict[int, _Listed]:
    """vzlist -j output -> {ctid: (status, live values)}; ValueError for anything but a JSON array
    of objects with integer ctids and no duplicate keys (vzlist does not escape strings, so a
    quote in a value can forge one).

    The array is decoded one object at a time and each is reduced at once, so the ~13 dicts per
    container of the whole listing never exist together (~150 MiB at 10,000 containers).
    """
    result: dict[int, _Listed] = {}
    seen: _Seen = {}
    at = _skip(text, 0)
    if text[at : at + 1] != "[":
        raise ValueError("not a JSON array")
    at = _skip(text, at + 1)
    separator = "]" if text[at : at + 1] == "]" else ","
    at = at + 1 if separator == "]" else at
    while separator == ",":
        item, at = _DECODER.raw_decode(text, _skip(text, at))
        ctid = item.get("ctid") if isinstance(item, dict) else None
        if not isinstance(ctid, int) or isinstance(ctid, bool):
            raise ValueError("not an object with an integer ctid")
        result[ctid] = _reduce(item, True, seen)
        at = _skip(text, at)
        separator, at = text[at : at + 1], at + 1
        if separator not in (",", "]"):
            raise ValueError("expecting ',' or ']'")
    if _skip(text, at) != len(text):
        raise ValueError("extra data")
    return result


def observe(access: NodeAccess) -> ObservedState:
    """Runs vzlist once (twice only when its JSON is unusable) and reads the configs; raises
    ObservationIncomplete when they disagree (`incomplete`), so nothing is planned from them.

    vzlist's text (~18 MB at 10,000 containers) is parsed and let go before the configs are read,
    and each config is reduced to its saved values as it is read, so that no two of these large
    intermediate forms are held at once.
    """
    done = access.listing(VZLIST_ARGV, timeout=120)
    if done.code != 0:
        raise ObserveError(
            f"vzlist failed (exit {done.code}): {done.stderr.strip() or done.stdout.strip()}"
        )
    try:
        listed = listed_values(done.stdout)
    except ValueError as exc:
        why = f"vzlist -j printed unusable JSON ({exc}); running values are unknown this time"
        fallback = _observe_fallback(access.run, configs_of(access.config_texts()), why)
        return check_complete(fallback, access.conf_dir)
    del done
    return check_complete(
        _build(listed, saved_of(access.config_texts()), True, ()), access.conf_dir
    )


def _observe_fallback(
    run: Runner, configs: Mapping[int, Mapping[str, str]], why: str
) -> ObservedState:
    done = run(FALLBACK_ARGV, timeout=120)
    if done.code != 0:
        raise ObserveError(f"{why}; vzlist -H failed too (exit {done.code})")
    try:
        table = parse_vzlist_table(done.stdout)
    except ValueError as exc:
        raise ObservationIncomplete(f"{why}; {exc}; nothing is planned for this node") from exc
    listed = {ctid: {"status": status} for ctid, status in table.items()}
    return build_state(listed, configs, running_known=False, warnings=(why,))
