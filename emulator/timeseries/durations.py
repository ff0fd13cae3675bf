"""RFC 3339 / ISO 8601 durations (`PT5M`, `P1D`, `P1W`) as milliseconds; months and years are refused."""

from __future__ import annotations

import re

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def duration_ms(text: str) -> int:
    """Milliseconds in `text`; ValueError for anything else (or a zero duration)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"not a fixed ISO 8601 duration: {text!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    total = (((parts["w"] * 7 + parts["d"]) * 24 + parts["h"]) * 60 + parts["m"]) * 60 + parts["s"]
    if total <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return int(total * 1000)
