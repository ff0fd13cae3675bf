"""clarify.dataFrame: the windows and item chunks to ask for, and the answer as arrow tables (long form)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

DAY_MS = 86_400_000
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


def iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_ms(text: str) -> int:
    value = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def windows(lo: int, hi: int, days: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) cut into spans of at most `days` days."""
    step = days * DAY_MS
    start = lo
    while start < hi:
        end = min(hi, start + step)
        yield start, end
        start = end


def chunks(starts: dict[str, int], size: int) -> Iterator[list[str]]:
    """Items grouped `size` at a time, those with similar start times together (less re-reading)."""
    ordered = sorted(starts, key=lambda item_id: (starts[item_id], item_id))
    for index in range(0, len(ordered), size):
        yield ordered[index : index + size]


def _times(frame: dict[str, Any]) -> pa.Array:
    return pc.cast(pa.array(frame.get("times") or [], pa.string()), TS)


def points_table(
    frame: dict[str, Any], starts: dict[str, int], enums: dict[str, dict[str, str]]
) -> tuple[pa.Table, dict[str, int]]:
    """Long table (item_id, time, value, enum_text) of non-null samples at or after each item's start,
    and the latest sample time (epoch ms) seen per item."""
    times = _times(frame)
    times_ms = pc.cast(times, pa.int64()) if len(times) else pa.array([], pa.int64())
    parts: list[pa.Table] = []
    latest: dict[str, int] = {}
    for item_id, values in (frame.get("series") or {}).items():
        if item_id not in starts:
            continue
        column = pa.array(values, pa.float64())
        # microseconds since epoch compared with the item's start in ms
        keep = pc.and_(pc.is_valid(column), pc.greater_equal(times_ms, starts[item_id] * 1000))
        kept_values = column.filter(keep)
        if not len(kept_values):
            continue
        kept_times = times.filter(keep)
        latest[item_id] = int(pc.max(pc.cast(kept_times, pa.int64())).as_py()) // 1000
        mapping = enums.get(item_id)
        if mapping:
            texts = [mapping.get(str(int(v))) if v is not None else None for v in kept_values.to_pylist()]
            enum_text = pa.array(texts, pa.string())
        else:
            enum_text = pa.nulls(len(kept_values), pa.string())
        parts.append(
            pa.table(
                [pa.array([item_id] * len(kept_values), pa.string()), kept_times, kept_values, enum_text],
                schema=POINT_SCHEMA,
            )
        )
    table = pa.concat_tables(parts) if parts else POINT_SCHEMA.empty_table()
    return table, latest


def rollup_table(frame: dict[str, Any], starts: dict[str, int], rollup: str) -> tuple[pa.Table, dict[str, int]]:
    """Long table of aggregates per (item, bucket) from series keyed `<itemId>_<aggregate>`."""
    times = _times(frame)
    times_ms = pc.cast(times, pa.int64()) if len(times) else pa.array([], pa.int64())
    series = frame.get("series") or {}
    parts: list[pa.Table] = []
    latest: dict[str, int] = {}
    for item_id, start in starts.items():
        if f"{item_id}_count" not in series:
            continue
        count = pa.array(series[f"{item_id}_count"], pa.float64())
        keep = pc.and_(pc.fill_null(pc.greater(count, 0), False), pc.greater_equal(times_ms, start * 1000))
        n = pc.sum(pc.cast(keep, pa.int64())).as_py() or 0
        if not n:
            continue
        kept_times = times.filter(keep)
        latest[item_id] = int(pc.max(pc.cast(kept_times, pa.int64())).as_py()) // 1000
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
