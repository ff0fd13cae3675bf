"""Timestamps as integers and as text: the conversions the sync, the push and the emulator share.

Times are exact integers of microseconds since the epoch where they are compared or stored (Clarify keeps
microseconds: clarify-go `fields/timestamp.go` is an int64 of them), and RFC 3339 text in UTC on the wire.
Integer arithmetic throughout: a float would round two samples within one microsecond together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_MS = 1000
DAY_US = 86_400_000_000
_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """Exact microseconds since the epoch; a naive datetime is UTC."""
    dt = value if value.tzinfo else value.replace(tzinfo=UTC)
    return (dt - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + us * _US


def parse_iso(text: str, *, naive_is_utc: bool = True) -> datetime:
    """An aware UTC datetime from RFC 3339 / ISO 8601 text (`Z` or an offset, any fraction digits).

    `naive_is_utc=False` refuses text without an offset (ValueError), as a strict RFC 3339 reader must.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        if not naive_is_utc:
            raise ValueError(f"timestamp without a time zone offset: {text!r}")
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_us(text: str, *, naive_is_utc: bool = True) -> int:
    """Microseconds since the epoch of RFC 3339 text (see `parse_iso`)."""
    return to_us(parse_iso(text, naive_is_utc=naive_is_utc))


def iso_us(us: int) -> str:
    """`2026-01-01T10:00:00.123456Z`: UTC with all six fraction digits, lossless."""
    return from_us(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_ms(dt: datetime) -> str:
    """`2026-01-01T10:00:00.123Z`: UTC floored to milliseconds, the Clarify CRM API's own fixed-width form."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
