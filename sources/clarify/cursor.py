"""The incremental cursor's timestamps and position: how `_updated_at` values are read, stored and filtered on.

What the cursor state holds per object, and how it changes, is in `state.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pendulum

from core.timefmt import iso_ms, iso_us, parse_iso, to_us


def parse_ts(value: Any) -> datetime:
    """An aware UTC datetime from any ISO-8601 form (`Z`, `+00:00`, naive = UTC) or a datetime/date."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            dt = parse_iso(text)
        except ValueError:
            dt = pendulum.parse(text)  # type: ignore[assignment]
            if not isinstance(dt, datetime):
                raise ValueError(f"not a timestamp: {text!r}") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def format_state_ts(dt: datetime) -> str:
    """Lossless text for state: `2026-01-01T10:00:00.123456Z`."""
    return iso_us(to_us(dt))


def format_filter_ts(dt: datetime) -> str:
    """The API's own form, floored to milliseconds so `Is on or after` never skips the instant itself."""
    return iso_ms(dt)


def filter_instant(dt: datetime) -> datetime:
    """The instant an `Is on or after` filter for `dt` really starts at (`format_filter_ts` floors to ms)."""
    return parse_ts(format_filter_ts(dt))


@dataclass
class Position:
    """Where a page walk is: `updated_at >= after`, skipping `offset` rows of that listing."""

    after: datetime | None = None
    offset: int = 0
