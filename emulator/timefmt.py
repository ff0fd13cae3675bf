"""Timestamp text: one fixed-width form on the wire and in storage, so string order is time order."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def format_ts(dt: datetime) -> str:
    """`2026-11-23T10:00:00.123Z` — always millisecond precision and `Z`."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """Any ISO-8601 form (`Z`, `+00:00`, with or without fractions); naive means UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def normalize_ts(text: str) -> str:
    return format_ts(parse_ts(text))


def is_date(text: str) -> bool:
    """Strict `YYYY-MM-DD` that is also a real calendar day."""
    if not _DATE_RE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
