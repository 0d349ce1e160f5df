"""Maintenance windows: when disruptive actions may run (pure; the clock is the caller's).

A window is weekdays, a local start time, a duration and an IANA time zone, like Argo CD's sync
windows: `{days: [sat, sun], start: "02:00", duration: 4h, timezone: Europe/Berlin}`. A Node,
a Defaults or a Container may list windows; a container's own (or its Defaults') replace the
node's. Outside every window of a container, the planner holds its restarts, recreates, stops and
destroys (kind `window`, "next window at ...") and applies its live changes at once. No windows:
always open. `closed()` takes `now` as an aware datetime: nothing here reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_DURATION = re.compile(r"^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?$")
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")
MAX_DURATION = timedelta(days=7)


def clock_time(value: str) -> str:
    if not _CLOCK.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of day; write HH:MM, 00:00 to 23:59")
    return value


def duration(value: str) -> str:
    if not minutes(value) or not _DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a duration; write e.g. 30m, 2h, 1h30m or 1d")
    if timedelta(minutes=minutes(value)) > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than a week; leave the windows out instead")
    return value


def minutes(value: str) -> int:
    match = _DURATION.fullmatch(value)
    if match is None:
        return 0
    days, hours, mins = (int(g or 0) for g in match.groups())
    return (days * 24 + hours) * 60 + mins


def time_zone(value: str) -> str:
    if not _ZONE.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} is not a time zone name; write e.g. UTC or Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; write an IANA name such as UTC or Europe/Berlin"
        ) from None
    return value


ClockTime = Annotated[str, AfterValidator(clock_time)]
Duration = Annotated[str, AfterValidator(duration)]
TimeZone = Annotated[str, AfterValidator(time_zone)]


class MaintenanceWindow(BaseModel):
    """When disruptive actions (restart, recreate, stop, destroy) may start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: list[Weekday] | None = Field(
        default=None, description="Weekdays the window starts on (mon..sun); omitted: every day."
    )
    start: ClockTime = Field(description="Local start time, HH:MM.")
    duration: Duration = Field(description="How long it stays open: 30m, 2h, 1h30m, 1d (≤ 7d).")
    timezone: TimeZone = Field(
        default="UTC", description="IANA time zone of start, e.g. Europe/Berlin; default UTC."
    )


def _starts(window: MaintenanceWindow, now: datetime, days: range) -> list[datetime]:
    """The window's start times (aware) on the local days `days` away from now's local date."""
    zone = ZoneInfo(window.timezone)
    today = now.astimezone(zone).date()
    hour, minute = (int(p) for p in window.start.split(":"))
    allowed = set(window.days or WEEKDAYS)
    found = []
    for offset in days:
        day = today + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] in allowed:
            found.append(datetime.combine(day, time(hour, minute), tzinfo=zone))
    return found


def is_open(windows: Sequence[MaintenanceWindow], now: datetime) -> bool:
    """Whether `now` is inside one of `windows` (no windows: always)."""
    if not windows:
        return True
    for window in windows:
        length = timedelta(minutes=minutes(window.duration))
        for start in _starts(window, now, range(-8, 1)):
            begin = start.astimezone(UTC)
            if begin <= now.astimezone(UTC) < begin + length:
                return True
    return False


def next_open(windows: Sequence[MaintenanceWindow], now: datetime) -> datetime:
    """The next start of any of `windows` after `now`, in that window's time zone."""
    after = now.astimezone(UTC)
    starts = [s for w in windows for s in _starts(w, now, range(9)) if s.astimezone(UTC) > after]
    return min(starts, key=lambda s: s.astimezone(UTC))


def closed(windows: Mapping[int, Sequence[MaintenanceWindow]], now: datetime) -> dict[int, str]:
    """ctid -> why its disruptive changes wait, for each container whose windows are closed."""
    reasons = {}
    for ctid, mine in windows.items():
        if not is_open(mine, now):
            at = next_open(mine, now)
            reasons[ctid] = (
                f"outside its maintenance window; next window at {at.isoformat(timespec='minutes')} "
                f"({at.tzname()}); pass --ignore-windows to run it now"
            )
    return reasons
