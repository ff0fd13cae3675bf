"""Timestamps of the time-series API: integer microseconds inside, RFC 3339 text on the wire.

The API stores microseconds (clarify-go `fields/timestamp.go`); pyclarify sends `datetime.isoformat()`, so
six fraction digits and any offset must survive a round trip. Answers use Go's RFC3339Nano form (trailing
zeros dropped, `Z`), as in clarify-go's recorded `testdata/`.
"""

from __future__ import annotations

from datetime import timedelta

from core.timefmt import EPOCH, US_PER_MS
from core.timefmt import parse_us as _parse_us


def iso_us(us: int) -> str:
    """`2025-06-01T12:00:00Z`, `...00.5Z`, `...00.123456Z` for a time in microseconds."""
    seconds, fraction = divmod(us, 1_000_000)
    text = (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{fraction:06d}".rstrip("0").rstrip(".") + "Z" if fraction else f"{text}Z"


def iso(ms: int) -> str:
    return iso_us(ms * US_PER_MS)


def parse_us(text: str) -> int:
    """Microseconds of an RFC 3339 timestamp; ValueError for anything else (a missing offset included)."""
    return _parse_us(text, naive_is_utc=False)
