"""The incremental cursor: timestamp normalisation, where a run starts, and what it stores in dlt state.

Per object, the resource state holds:
- `cursor`: ISO timestamp; every record with `_updated_at` below it has been loaded;
- `offset`: how far into the tie group at `cursor` an unfinished walk got (chunked loads resume there);
- `complete`: whether the last walk reached the end of the listing;
- `last_reconcile_at`, `last_run_at`: ISO timestamps of the last reconcile and the last finished walk;
- `inferred`: field types learned from values (fields the schema does not describe).
Nothing here grows with the number of records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pendulum


def parse_ts(value: Any) -> datetime:
    """An aware UTC datetime from any ISO-8601 form (`Z`, `+00:00`, naive = UTC) or a datetime/date."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            dt = pendulum.parse(text)  # type: ignore[assignment]
            if not isinstance(dt, datetime):
                raise ValueError(f"not a timestamp: {text!r}") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def format_state_ts(dt: datetime) -> str:
    """Lossless text for state: `2026-01-01T10:00:00.123456Z`."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_filter_ts(dt: datetime) -> str:
    """The API's own form, floored to milliseconds so `Is on or after` never skips the instant itself."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def filter_instant(dt: datetime) -> datetime:
    """The instant an `Is on or after` filter for `dt` really starts at (`format_filter_ts` floors to ms)."""
    return parse_ts(format_filter_ts(dt))


@dataclass
class Position:
    """Where a page walk is: `updated_at >= after`, skipping `offset` rows of that listing."""

    after: datetime | None = None
    offset: int = 0


def start_position(state: dict[str, Any], *, since: Any = None, lag_seconds: float = 0.0) -> Position:
    """Where this walk begins.

    An unfinished walk (chunked load, or a crash after a chunk committed) continues exactly where the last
    committed load left it; a finished one restarts `lag_seconds` before the cursor to catch late commits.
    `since` (a backfill) overrides both.
    """
    if since is not None:
        return Position(parse_ts(since), 0)
    cursor = state.get("cursor")
    if cursor is None:
        return Position(None, int(state.get("offset") or 0))
    at = parse_ts(cursor)
    if not state.get("complete", True):
        return Position(at, int(state.get("offset") or 0))
    return Position(at - timedelta(seconds=lag_seconds), 0)


def finish_cursor(state: dict[str, Any], max_seen: datetime | None, rewind_to: datetime | None) -> str | None:
    """The cursor after a finished walk: the newest `_updated_at` seen (never moving back because of the lag
    window), but not past a newer version that the walk had to skip (the next run re-reads from there)."""
    candidates = [parse_ts(state["cursor"])] if state.get("cursor") and state.get("complete", True) else []
    if max_seen is not None:
        candidates.append(max_seen)
    if not candidates:
        return state.get("cursor")
    cursor = max(candidates)
    if rewind_to is not None and rewind_to < cursor:
        cursor = rewind_to
    return format_state_ts(cursor)


def system_value(record: dict[str, Any], name: str) -> Any:
    """A system field wherever this API variant puts it: attributes, the record itself, or meta."""
    attrs = record.get("attributes")
    if isinstance(attrs, dict) and name in attrs:
        return attrs[name]
    if name in record:
        return record[name]
    meta = record.get("meta")
    if isinstance(meta, dict) and name in meta:
        return meta[name]
    return None
