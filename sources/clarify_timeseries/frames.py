"""clarify.dataFrame: the windows and item chunks to ask for, and the answer as arrow tables (long form).

Times are integers of microseconds since the epoch throughout: Clarify stores microseconds (clarify-go
`fields/timestamp.go` is an int64 of them), so two samples within one millisecond stay two samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from core.timefmt import DAY_US

TS = pa.timestamp("us", tz="UTC")

_KEY = pa.field("item_id", pa.string(), nullable=False)
_TIME = pa.field("time", TS, nullable=False)
POINT_SCHEMA = pa.schema([_KEY, _TIME, ("value", pa.float64()), ("enum_text", pa.string())])
AGGREGATES = ("min", "max", "avg", "sum", "count")
ROLLUP_SCHEMA = pa.schema(
    [
        _KEY,
        _TIME,
        pa.field("rollup", pa.string(), nullable=False),
        ("min", pa.float64()),
        ("max", pa.float64()),
        ("avg", pa.float64()),
        ("sum", pa.float64()),
        ("count", pa.int64()),
    ]
)


def windows(lo: int, hi: int, days: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) cut into spans of at most `days` days."""
    step = days * DAY_US
    start = lo
    while start < hi:
        end = min(hi, start + step)
        yield start, end
        start = end


def chunks(starts: dict[str, int], size: int, spread: int = DAY_US) -> Iterator[list[str]]:
    """Items grouped `size` at a time, by start time: a call reads all its items from the earliest start, so an
    item starting more than `spread` after it (e.g. an item with a cursor next to one read from `--since`) goes
    into the next call rather than be read from that far back."""
    ordered = sorted(starts, key=lambda item_id: (starts[item_id], item_id))
    chunk: list[str] = []
    for item_id in ordered:
        if chunk and (len(chunk) == size or starts[item_id] - starts[chunk[0]] > spread):
            yield chunk
            chunk = []
        chunk.append(item_id)
    if chunk:
        yield chunk


def _times(frame: dict[str, Any]) -> pa.Array:
    return pc.cast(pa.array(frame.get("times") or [], pa.string()), TS)


def points_table(
    frame: dict[str, Any], starts: dict[str, int], enums: dict[str, dict[str, str]]
) -> tuple[pa.Table, dict[str, int]]:
    """Long table (item_id, time, value, enum_text) of non-null samples at or after each item's start,
    and the latest sample time seen per item."""
    times = _times(frame)
    times_us = pc.cast(times, pa.int64())
    parts: list[pa.Table] = []
    latest: dict[str, int] = {}
    for item_id, values in (frame.get("series") or {}).items():
        if item_id not in starts:
            continue
        column = pa.array(values, pa.float64())
        keep = pc.and_(pc.is_valid(column), pc.greater_equal(times_us, starts[item_id]))
        kept_values = column.filter(keep)
        if not len(kept_values):
            continue
        kept_times = times.filter(keep)
        latest[item_id] = int(pc.max(pc.cast(kept_times, pa.int64())).as_py())
        mapping = enums.get(item_id)
        enum_text = _enum_texts(kept_values, mapping) if mapping else pa.nulls(len(kept_values), pa.string())
        parts.append(
            pa.table(
                [pa.repeat(pa.scalar(item_id, pa.string()), len(kept_values)), kept_times, kept_values, enum_text],
                schema=POINT_SCHEMA,
            )
        )
    table = pa.concat_tables(parts) if parts else POINT_SCHEMA.empty_table()
    return table, latest


def _enum_texts(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """The text of each enum value (`enumValues` is keyed by the integer as a string); null if unknown."""
    keys = pc.cast(pc.cast(values, pa.int64(), safe=False), pa.string())
    return pc.take(pa.array(list(mapping.values()), pa.string()), pc.index_in(keys, pa.array(list(mapping))))


def rollup_table(frame: dict[str, Any], starts: dict[str, int], rollup: str) -> tuple[pa.Table, dict[str, int]]:
    """Long table of aggregates per (item, bucket) from series keyed `<itemId>_<aggregate>`."""
    times = _times(frame)
    times_us = pc.cast(times, pa.int64())
    series = frame.get("series") or {}
    parts: list[pa.Table] = []
    latest: dict[str, int] = {}
    for item_id, start in starts.items():
        if f"{item_id}_count" not in series:
            continue
        count = pa.array(series[f"{item_id}_count"], pa.float64())
        keep = pc.and_(pc.fill_null(pc.greater(count, 0), False), pc.greater_equal(times_us, start))
        n = pc.sum(pc.cast(keep, pa.int64())).as_py() or 0
        if not n:
            continue
        kept_times = times.filter(keep)
        latest[item_id] = int(pc.max(pc.cast(kept_times, pa.int64())).as_py())
        columns = [pa.array([item_id] * n, pa.string()), kept_times, pa.array([rollup] * n, pa.string())]
        for name in AGGREGATES:
            values = pa.array(series.get(f"{item_id}_{name}") or [None] * len(times), pa.float64()).filter(keep)
            columns.append(pc.cast(values, pa.int64()) if name == "count" else values)
        parts.append(pa.table(columns, schema=ROLLUP_SCHEMA))
    table = pa.concat_tables(parts) if parts else ROLLUP_SCHEMA.empty_table()
    return table, latest


TIME_COLUMNS: dict[str, dict[str, Any]] = {
    "item_id": {"data_type": "text", "nullable": False},
    "time": {"data_type": "timestamp", "timezone": True, "nullable": False},
}


def answered(frame: dict[str, Any], ids: list[str], rollup: str | None) -> list[str]:
    """Which of `ids` a (partial) frame holds series for: `<id>`, or with a rollup `<id>_<aggregate>` (an enum
    item's may be a state histogram, `<id>_<state>`, without `_count`; item ids hold no `_`)."""
    series = frame.get("series") or {}
    keys = {key.rsplit("_", 1)[0] for key in series} if rollup else set(series)
    return [i for i in ids if i in keys]
