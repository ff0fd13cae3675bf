"""Rollup buckets of `clarify.dataFrame`: fixed durations, calendar durations in a time zone, or "window".

A rollup is an RFC 3339 duration (pyclarify `__utils__/time.py` accepts years, months, weeks and days) or
"window". Fixed durations (hours, minutes, seconds) are laid from `origin` (default: the epoch's midnight in
`timeZone`); days, weeks, months and years are calendar units in `timeZone`, weeks starting on
`firstDayOfWeek` (1 = Monday ... 7 = Sunday, pyclarify's `IntWeekDays`), so a P1D bucket is 23 or 25 hours
long across a DST change and P1M buckets start on local month starts. Mixing calendar and clock parts is
refused. The longest time window per request follows pyclarify `__utils__/pagination.py`
(`DATA_FRAME_WINDOWS`): 40 days raw or under PT1M, 400 from PT1M, 1,900 from PT24H, 3,660 from 30 days,
months counting as 28 days; "window" is unlimited.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.timefmt import DAY_US, to_us

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_US_PER_MINUTE = 60_000_000
WINDOW_DAYS = ((30 * DAY_US, 3660), (DAY_US, 1900), (_US_PER_MINUTE, 400))
RAW_WINDOW_DAYS = 40
_MONDAY = date(1970, 1, 5)


@dataclass(frozen=True)
class Rollup:
    """One parsed rollup: exactly one of `months`, `days` (weeks are 7 days) or `fixed_us` is set."""

    months: int = 0
    days: int = 0
    weeks: bool = False
    fixed_us: int = 0
    window: bool = False

    def shortest_us(self) -> int:
        return self.fixed_us or self.days * DAY_US or self.months * 28 * DAY_US

    def max_window_days(self) -> int | None:
        if self.window:
            return None
        return next((days for least, days in WINDOW_DAYS if self.shortest_us() >= least), RAW_WINDOW_DAYS)


def parse_rollup(text: str) -> Rollup:
    """ValueError names what is wrong."""
    if text == "window":
        return Rollup(window=True)
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError('must be an RFC 3339 duration or "window"')
    p = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    months = int(p["years"] * 12 + p["months"])
    days = int(p["weeks"] * 7 + p["days"])
    fixed_us = int(round((p["hours"] * 3600 + p["minutes"] * 60 + p["seconds"]) * 1_000_000))
    if sum(1 for part in (months, days, fixed_us) if part) != 1:
        raise ValueError("must be a positive duration of one kind: years/months, weeks/days, or hours/minutes/seconds")
    return Rollup(months=months, days=days, weeks=bool(p["weeks"]) and not p["days"], fixed_us=fixed_us)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Oslo") from None


def _midnight(day: date, tz: ZoneInfo) -> int:
    return to_us(datetime(day.year, day.month, day.day, tzinfo=tz))


def _local_date(us: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(us / 1_000_000, tz).date()


def _calendar_start(rollup: Rollup, us: int, tz: ZoneInfo, first_day: int, origin: int | None) -> date:
    """The local date the bucket holding `us` starts on."""
    day = _local_date(us, tz)
    if rollup.months:
        anchor = _local_date(origin, tz) if origin is not None else date(1970, 1, 1)
        index = (day.year * 12 + day.month - 1) - (anchor.year * 12 + anchor.month - 1)
        month = anchor.year * 12 + anchor.month - 1 + (index // rollup.months) * rollup.months
        return date(month // 12, month % 12 + 1, 1)
    if origin is not None:
        anchor = _local_date(origin, tz)
    else:
        anchor = _MONDAY + timedelta(days=first_day - 1) if rollup.weeks else date(1970, 1, 1)
    return anchor + timedelta(days=((day - anchor).days // rollup.days) * rollup.days)


def _next_calendar(rollup: Rollup, start: date) -> date:
    if rollup.months:
        month = start.year * 12 + start.month - 1 + rollup.months
        return date(month // 12, month % 12 + 1, 1)
    return start + timedelta(days=rollup.days)


@dataclass(frozen=True)
class Buckets:
    """The rollup buckets over [lo, hi): which bucket a time falls in, and the bucket n steps away.

    Fixed durations are arithmetic (a PT1S rollup over 40 days never lists its 3.5 million starts); calendar
    buckets and "window" are few, so their starts are listed.
    """

    lo: int
    hi: int
    step_us: int  # fixed durations; 0 when `starts` is listed
    base: int
    starts: tuple[int, ...]

    def of(self, us: int) -> int:
        """The start of the bucket holding `us` (a time inside the window)."""
        if self.step_us:
            return self.base + ((us - self.base) // self.step_us) * self.step_us
        return self.starts[bisect.bisect_right(self.starts, us) - 1]

    def shift(self, start: int, steps: int) -> int | None:
        """The start `steps` buckets after `start` (before, if negative); None outside the window."""
        if self.step_us:
            moved = start + steps * self.step_us
            return moved if self.of(self.lo) <= moved < self.hi else None
        index = bisect.bisect_left(self.starts, start) + steps
        return self.starts[index] if 0 <= index < len(self.starts) else None


def buckets(rollup: Rollup, lo: int, hi: int, tz: ZoneInfo, first_day: int, origin: int | None) -> Buckets:
    if rollup.window:
        return Buckets(lo, hi, 0, lo, (lo,))
    if rollup.fixed_us:
        base = origin if origin is not None else _midnight(date(1970, 1, 1), tz)
        return Buckets(lo, hi, rollup.fixed_us, base, ())
    day = _calendar_start(rollup, lo, tz, first_day, origin)
    starts = []
    while (start := _midnight(day, tz)) < hi:
        starts.append(start)
        day = _next_calendar(rollup, day)
    return Buckets(lo, hi, 0, starts[0], tuple(starts))
