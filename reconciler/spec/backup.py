"""Declared backups: the `backup` policy and `restoreFrom`, and their pure evaluation.

A Node, a Defaults or a Container may declare `backup: {schedule: 6h, mode: snapshot,
compress: gzip, dumpDir: /vz/dump, keepLast: 7, keepFor: 30d}`; a container's own (or its
Defaults') replaces the node's. `schedule` is an interval (`6h`, `1d`, `1h30m`) counted from the
last successful dump, or a 5-field cron expression (`30 2 * * *`, Vixie cron's rules: lists,
ranges, steps, month and weekday names, day-of-month OR day-of-week when both are restricted)
in `timezone`. The controller calls `next_due`, `missed` and `expired`; nothing here reads a
clock: `now` and the last dump's time are the caller's. The vzdump options are
../shared/openvz/REFERENCE.md section 11 (`--mode`, `--compress 0|gzip|lzo`, `--dumpdir`).
"""

from __future__ import annotations

import bisect
import functools
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from reconciler.spec.windows import TimeZone

BackupMode = Literal["stop", "suspend", "snapshot"]
Compress = Literal["none", "gzip", "lzo"]
COMPRESS_ARG: dict[str, str] = {"none": "0", "gzip": "gzip", "lzo": "lzo"}
_INTERVAL = re.compile(r"^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?$")
_ARCHIVE = re.compile(r"^vzdump-openvz-[0-9]+-[0-9]{4}_[0-9]{2}_[0-9]{2}-[0-9]{2}_[0-9]{2}_[0-9]{2}\.(tar|tar\.gz|tar\.lzo|tgz)$")  # fmt: skip
_DIR = re.compile(r"^/[A-Za-z0-9._/+-]*$")
MIN_INTERVAL = timedelta(minutes=5)
MAX_JITTER = 900.0  # seconds; a tenth of the period, at most this
LATEST = "latest"
_NAMES = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5,
    "sat": 6,
}  # fmt: skip
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))  # fmt: skip


def interval_seconds(value: str) -> int:
    """`6h` -> 21600; 0 for anything that is not an interval."""
    found = _INTERVAL.fullmatch(value)
    if found is None or not value:
        return 0
    days, hours, mins = (int(g or 0) for g in found.groups())
    return ((days * 24 + hours) * 60 + mins) * 60


@dataclass(frozen=True)
class Cron:
    """A parsed 5-field cron expression: the allowed values of each field."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is `*`
    any_weekday: bool  # day of week is `*`

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days, (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:  # Vixie cron: OR only when both are restricted
            return dom and dow
        return dom or dow


def _number(text: str, name: str, low: int, high: int) -> int:
    value = _NAMES.get(text.lower()) if name in ("month", "day of week") else None
    if value is None and not text.isdigit():
        raise ValueError(f"{name} {text!r} is not a number")
    value = int(text) if value is None else value
    if not low <= value <= high:
        raise ValueError(f"{name} {value} is outside {low}-{high}")
    return value


def _part(text: str, name: str, low: int, high: int) -> set[int]:
    body, _, step_text = text.partition("/")
    step = _number(step_text, name + " step", 1, high) if step_text else 1
    if body == "*":
        first, last = low, high
    elif "-" in body:
        a, _, b = body.partition("-")
        first, last = _number(a, name, low, high), _number(b, name, low, high)
        if first > last:
            raise ValueError(f"{name} range {body!r} runs backwards")
    else:
        first = _number(body, name, low, high)
        last = high if step_text else first
    return set(range(first, last + 1, step))


@functools.lru_cache(maxsize=256)
def parse_cron(expression: str) -> Cron:
    """The five fields of `expression`; ValueError naming the field that is wrong."""
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"a cron expression has 5 fields, {expression!r} has {len(parts)}")
    values = []
    for text, (name, low, high) in zip(parts, _FIELDS, strict=True):
        found: set[int] = set()
        for item in text.split(","):
            found |= _part(item, name, low, high)
        values.append(found)
    return Cron(
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=frozenset(d % 7 for d in values[4]),
        any_day=parts[2] == "*",
        any_weekday=parts[4] == "*",
    )


def _first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _times(cron: Cron, day: date, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first of the day's matching minutes after `after` (skipping earlier hours)."""
    floor = after.astimezone(zone)
    same_day = floor.date() == day
    for hour in cron.hours:
        if same_day and hour < floor.hour:
            continue
        start = bisect.bisect_left(cron.minutes, floor.minute) if same_day and hour == floor.hour else 0  # fmt: skip
        for minute in cron.minutes[start:]:
            at = datetime.combine(day, time(hour, minute), tzinfo=zone)
            if at.astimezone(UTC) > after.astimezone(UTC):
                return at
    return None


def next_match(cron: Cron, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first minute after `after` that `cron` matches, in `zone`; None within 8 years."""
    day = after.astimezone(zone).date()
    last = day + timedelta(days=8 * 366)
    while day <= last:
        if day.month not in cron.months:
            day = _first_of_next_month(day)
            continue
        found = _times(cron, day, after, zone) if cron.day_matches(day) else None
        if found is not None:
            return found
        day += timedelta(days=1)
    return None


def schedule(value: str) -> str:
    """An interval of at least 5 minutes, or a cron expression that matches some day."""
    if interval_seconds(value):
        if timedelta(seconds=interval_seconds(value)) < MIN_INTERVAL:
            raise ValueError(f"{value!r} is shorter than 5m; a dump copies the whole private area")
        return value
    if len(value.split()) == 1:
        raise ValueError(f"{value!r} is neither an interval (6h, 1d, 1h30m) nor a 5-field cron expression ('30 2 * * *')")  # fmt: skip
    cron = parse_cron(value)
    if next_match(cron, datetime(2000, 1, 1, tzinfo=UTC), ZoneInfo("UTC")) is None:
        raise ValueError(f"the cron expression {value!r} never matches a day")
    return value


def keep_for(value: str) -> str:
    if not interval_seconds(value):
        raise ValueError(f"{value!r} is not a duration; write e.g. 12h, 7d or 30d")
    return value


def dump_dir(value: str) -> str:
    if not _DIR.fullmatch(value) or "/../" in f"{value}/":
        raise ValueError(f"{value!r} is not an absolute directory path of letters, digits and ._+-")  # fmt: skip
    return value


def restore_from(value: str) -> str:
    if value != LATEST and not _ARCHIVE.fullmatch(value):
        raise ValueError(
            f"{value!r} is neither 'latest' nor a vzdump archive name such as vzdump-openvz-101-2026_01_31-02_30_00.tar.gz (see 'vzgitops backups')"
        )
    return value


Schedule = Annotated[str, AfterValidator(schedule), WithJsonSchema({"type": "string"})]
KeepFor = Annotated[str, AfterValidator(keep_for), WithJsonSchema({"type": "string", "pattern": "^(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?$"})]  # fmt: skip
DumpDir = Annotated[str, AfterValidator(dump_dir), WithJsonSchema({"type": "string", "pattern": _DIR.pattern})]  # fmt: skip
RestoreFrom = Annotated[str, AfterValidator(restore_from), WithJsonSchema({"type": "string"})]


class BackupPolicy(BaseModel):
    """When the controller dumps a container with vzdump, how, where, and what it keeps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule: Schedule = Field(
        description="An interval after the last successful dump (6h, 1d, 1h30m; at least 5m), or a 5-field cron expression ('30 2 * * *') in timezone."
    )
    timezone: TimeZone = Field(
        default="UTC", description="IANA time zone of a cron schedule, e.g. Europe/Berlin."
    )
    mode: BackupMode = Field(
        default="snapshot",
        description="vzdump --mode: snapshot (LVM snapshot, keeps running), suspend, or stop (stops the container while dumping).",
    )
    compress: Compress = Field(
        default="gzip", description="vzdump --compress: none, gzip or lzo (needs lzop on the node)."
    )
    dumpDir: DumpDir | None = Field(
        default=None,
        description="vzdump --dumpdir on the node; omitted: --dump-dir, else vz.conf DUMPDIR, else /vz/dump.",
    )
    keepLast: int | None = Field(
        default=None, ge=1, le=10000, description="Keep the newest N scheduled archives."
    )
    keepFor: KeepFor | None = Field(
        default=None,
        description="Keep archives younger than this (12h, 7d, 30d); with keepLast, an archive either keeps is kept.",
    )

    def summary(self) -> str:
        """One line for plans: `every 6h, snapshot, gzip, keep last 7 / 30d`."""
        when = f"every {self.schedule}" if interval_seconds(self.schedule) else f"cron '{self.schedule}' {self.timezone}"  # fmt: skip
        keep = " / ".join(
            k for k in (f"last {self.keepLast}" if self.keepLast else "", self.keepFor or "") if k
        )
        where = f", in {self.dumpDir}" if self.dumpDir else ""
        return f"{when}, {self.mode}, {self.compress}{where}, keep {keep or 'all'}"


def _jitter(ctid: int, period: float) -> float:
    """The same offset for a container every time, spread over a tenth of the period."""
    unit = zlib.crc32(f"vzgitops-backup-{ctid}".encode()) / 2**32
    return unit * min(period / 10, MAX_JITTER)


@functools.lru_cache(maxsize=4096)
def _match_after(expression: str, timezone: str, after: float) -> float | None:
    """`next_match` as Unix time, remembered: a fleet shares its schedules and start times."""
    found = next_match(parse_cron(expression), datetime.fromtimestamp(after, UTC), ZoneInfo(timezone))  # fmt: skip
    return found.timestamp() if found is not None else None


def period_at(policy: BackupPolicy, at: float) -> float:
    """Seconds from one due time to the next: the interval, or the gap to the next cron match."""
    every = interval_seconds(policy.schedule)
    if every:
        return float(every)
    first = _match_after(policy.schedule, policy.timezone, at)
    second = _match_after(policy.schedule, policy.timezone, first) if first else None
    return second - first if first and second else 86400.0


def next_due(policy: BackupPolicy, ctid: int, last_ok: float | None, since: float) -> float:
    """When the next dump is due (Unix time): the interval after the last successful one (never
    dumped: `since`, when the policy was first seen), or the next cron match after it; plus
    the container's jitter."""
    every = interval_seconds(policy.schedule)
    if every:
        base = last_ok + every if last_ok is not None else since
        return base + _jitter(ctid, every)
    start = last_ok if last_ok is not None else since
    found = _match_after(policy.schedule, policy.timezone, start)
    at = found if found is not None else start + 86400.0
    return at + _jitter(ctid, period_at(policy, at - 1))


def retry_delay(policy: BackupPolicy, at: float) -> float:
    """After a failed dump: a tenth of the period, between one minute and an hour."""
    return min(max(period_at(policy, at) / 10, 60.0), 3600.0)


def missed(policy: BackupPolicy, due: float, now: float) -> bool:
    """Overdue by more than one period."""
    return now > due + period_at(policy, due)


def expired(archives: Sequence[tuple[str, float]], policy: BackupPolicy, now: float) -> list[str]:
    """Which of a container's archives (path, when taken) retention deletes: those neither
    among the newest `keepLast` nor younger than `keepFor`; the newest is always kept, and
    no rule set keeps everything."""
    if policy.keepLast is None and policy.keepFor is None:
        return []
    newest_first = sorted(archives, key=lambda a: (a[1], a[0]), reverse=True)
    age_limit = interval_seconds(policy.keepFor) if policy.keepFor else None
    doomed = []
    for index, (path, taken) in enumerate(newest_first[1:], start=1):
        by_count = policy.keepLast is not None and index < policy.keepLast
        by_age = age_limit is not None and now - taken < age_limit
        if not (by_count or by_age):
            doomed.append(path)
    return sorted(doomed)
