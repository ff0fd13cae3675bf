"""Timestamp text: one fixed-width form on the wire and in storage (`core.timefmt.iso_ms`), so string order is
time order."""

from __future__ import annotations

import re
from datetime import date

from core.timefmt import iso_ms, parse_iso

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalize_ts(text: str) -> str:
    return iso_ms(parse_iso(text))


def is_date(text: str) -> bool:
    """Strict `YYYY-MM-DD` that is also a real calendar day."""
    if not _DATE_RE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
