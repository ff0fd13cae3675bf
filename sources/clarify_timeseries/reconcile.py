"""The reconcile pass of the time-series sync: what the lag window cannot see, found by counting.

Per item and UTC day, the API's sample count and sum (a `clarify.dataFrame` rollup, `P1D` in time zone UTC
from a UTC midnight `origin`, so its buckets are the days the warehouse groups by) are compared with the
warehouse's: counts exactly, sums within `SUM_TOLERANCE` of the day's sum of magnitudes (two correct sums of
the same floats may differ in their last bits by the order they were added in). The (item, window) pairs that
differ are read again, raw, as the sync reads, and merged on (item_id, time); where the warehouse already held
rows in such a window they are replaced, so samples deleted upstream go too.

Rollup answers follow pyclarify's documented keys (`<itemId>_count`, `_sum`, `_avg`, `_min`, `_max`; times are
bucket starts). Clarify's docs and clarify-go (`client.go`, `DataFrame`) say an enum item's rollup is a state
histogram in seconds instead: an item answered without `_count` is counted by `clarify.evaluate` (aggregation
`count`, same buckets), without a sum; one that cannot be counted either is named in `report.uncompared`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

import sources.clarify_timeseries.settings as s
from core.timefmt import DAY_US, iso_us, parse_us
from sources.clarify_timeseries.frames import windows
from sources.clarify_timeseries.reading import FrameReader, FrameTables, ItemMarks, Progress, frame_of
from sources.clarify_timeseries.report import ReconcileReport, TimeseriesReport
from sources.clarify_timeseries.rpc import RpcClient, RpcError

DAY_ROLLUP = "P1D"
# Buckets start at UTC midnights whether the API counts P1D as a calendar day or as 24 hours from `origin`.
DAY_QUERY = {"timeZone": "UTC", "origin": "2000-01-03T00:00:00Z"}
SUM_TOLERANCE = 1e-9
STAMP_KEY = "last_reconcile_us"  # in the data_points resource state: when the last reconcile pass finished


@dataclass
class DayStats:
    """Samples of one item on one UTC day: how many, their sum (None: counted only) and their sum of
    magnitudes (the warehouse's; the scale a sum's rounding error is measured against)."""

    count: int = 0
    total: float | None = 0.0
    magnitude: float = 0.0

    def add(self, count: float | None, total: float | None) -> None:
        self.count += round(count or 0)
        self.total = None if self.total is None or total is None else self.total + total


Days = dict[str, dict[int, DayStats]]  # item id -> days since the epoch (UTC) -> stats


def reconciled_at(state: dict[str, Any]) -> int | None:
    return state.get(STAMP_KEY)


def mark_reconciled(state: dict[str, Any], now_us: int) -> None:
    state[STAMP_KEY] = now_us


def _of(report: TimeseriesReport) -> ReconcileReport:
    if report.reconcile is None:
        report.reconcile = ReconcileReport()
    return report.reconcile


def api_days(rpc: RpcClient, report: TimeseriesReport, ids: list[str], lo: int, hi: int) -> Days:
    """Per item and day in [lo, hi), the API's count and sum. Items a -32021 or an unreadable answer left out are
    in `report.failures`; items neither a rollup nor an evaluation counts, in `report.reconcile.uncompared`."""
    recon = _of(report)
    reader = FrameReader(rpc, DAY_ROLLUP, report, report.failed_items, query=DAY_QUERY)
    days: Days = {}
    uncounted: list[str] = []
    for start in range(0, len(ids), s.FRAME_ITEMS):
        chunk = ids[start : start + s.FRAME_ITEMS]
        for wlo, whi in windows(lo, hi, s.ROLLUP_DAYS):
            asked = [i for i in chunk if i not in reader.failed and i not in uncounted]
            if not asked:
                continue
            frame, done = reader.frame(asked, wlo, whi)
            recon.calls += 1
            try:
                uncounted += _add_rollups(days, frame, done)
            except (TypeError, ValueError) as exc:  # one odd answer must not end the run
                reader.reject(done, wlo, whi, f"clarify.dataFrame answered day rollups that cannot be read ({exc})")
    for item_id in uncounted:
        days.pop(item_id, None)
    days.update(_evaluated_counts(rpc, recon, uncounted, lo, hi))
    for item_id in reader.failed:
        days.pop(item_id, None)
    return days


def _add_rollups(days: Days, frame: dict[str, Any], done: list[str]) -> list[str]:
    """Add one answer's buckets to `days`; the answered items it has no `_count` series for."""
    buckets = _bucket_days(frame)
    series = frame.get("series") or {}
    uncounted = []
    for item_id in done:
        if f"{item_id}_count" not in series:
            uncounted.append(item_id)
            continue
        nothing = [None] * len(buckets)
        sums = series.get(f"{item_id}_sum") or nothing
        _add_days(days.setdefault(item_id, {}), buckets, series[f"{item_id}_count"] or nothing, sums)
    return uncounted


def _bucket_days(frame: dict[str, Any]) -> list[int]:
    """The answer's bucket starts as days since the epoch; ValueError unless each is a UTC midnight."""
    times = [parse_us(t) for t in frame.get("times") or []]
    odd = next((t for t in times if t % DAY_US), None)
    if odd is not None:
        raise ValueError(f"bucket {iso_us(odd)} does not start at a UTC midnight")
    return [t // DAY_US for t in times]


def _add_days(per_day: dict[int, DayStats], buckets: list[int], counts: list[Any], sums: list[Any]) -> None:
    for day, count, total in zip(buckets, counts, sums, strict=True):
        if count:
            per_day.setdefault(day, DayStats()).add(count, total)


def _evaluated_counts(rpc: RpcClient, recon: ReconcileReport, ids: list[str], lo: int, hi: int) -> Days:
    """Day counts (no sums) by `clarify.evaluate`; items it refuses are left uncompared."""
    days: Days = {}
    for start in range(0, len(ids), s.FRAME_ITEMS):
        aliases = {f"c{n}": item_id for n, item_id in enumerate(ids[start : start + s.FRAME_ITEMS])}
        try:
            for wlo, whi in windows(lo, hi, s.ROLLUP_DAYS):
                data = {"filter": {"times": {"$gte": iso_us(wlo), "$lt": iso_us(whi)}}, "rollup": DAY_ROLLUP}
                params = {
                    "items": [{"id": i, "aggregation": "count", "alias": a} for a, i in aliases.items()],
                    "calculations": [],
                    "data": {**data, **DAY_QUERY},
                    "format": s.FRAME_FORMAT,
                }
                recon.calls += 1
                frame = frame_of(rpc.call("clarify.evaluate", params))
                buckets, series = _bucket_days(frame), frame.get("series") or {}
                nothing = [None] * len(buckets)
                for alias, item_id in aliases.items():
                    _add_days(days.setdefault(item_id, {}), buckets, series.get(alias) or nothing, nothing)
        except (RpcError, TypeError, ValueError):
            recon.uncompared += aliases.values()
            for item_id in aliases.values():
                days.pop(item_id, None)
    return days


def differing_days(api: Days, warehouse: Days, ids: list[str]) -> dict[str, list[int]]:
    """Per item, the days whose counts differ, or whose sums differ by more than floats explain."""
    out: dict[str, list[int]] = {}
    for item_id in ids:
        if item_id not in api:
            continue  # not compared: failed, or uncompared
        ours, theirs = warehouse.get(item_id, {}), api[item_id]
        days = sorted(d for d in ours.keys() | theirs.keys() if _differs(theirs.get(d), ours.get(d)))
        if days:
            out[item_id] = days
    return out


def _differs(api: DayStats | None, warehouse: DayStats | None) -> bool:
    api, warehouse = api or DayStats(), warehouse or DayStats()
    if api.count != warehouse.count:
        return True
    if not api.count or api.total is None or warehouse.total is None:
        return False
    return abs(api.total - warehouse.total) > SUM_TOLERANCE * max(1.0, warehouse.magnitude)


@dataclass
class Rereads:
    """The raw reads a reconcile makes: (items, lo, hi) calls of at most 50 items and 40 days, worked off across
    the sync's parts. `stale` holds the (item, lo, hi) windows the warehouse held rows in; `replaced` those of
    them read in the current part (the wiring deletes their old rows before the part loads)."""

    reads: list[tuple[list[str], int, int]]
    enums: dict[str, dict[str, str]]
    stale: set[tuple[str, int, int]]
    position: int = 0
    replaced: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.position >= len(self.reads)


def plan_rereads(
    differing: dict[str, list[int]], warehouse: Days, lo: int, hi: int, enums: dict[str, dict[str, str]]
) -> Rereads:
    """Each item's runs of consecutive differing days become one window ([lo, hi) clipped); items with the
    same window are read together."""
    by_window: dict[tuple[int, int], list[str]] = {}
    stale: set[tuple[str, int, int]] = set()
    for item_id, days in differing.items():
        for first, last in _runs(days):
            window = (max(lo, first * DAY_US), min(hi, (last + 1) * DAY_US))
            by_window.setdefault(window, []).append(item_id)
            if any(warehouse.get(item_id, {}).get(day) for day in range(first, last + 1)):
                stale.add((item_id, *window))
    reads = []
    for (wlo, whi), items in sorted(by_window.items()):
        items.sort()
        for start in range(0, len(items), s.FRAME_ITEMS):
            reads += [(items[start : start + s.FRAME_ITEMS], a, b) for a, b in windows(wlo, whi, s.FRAME_DAYS)]
    return Rereads(reads, enums, {(i, a, b) for i, wlo, whi in stale for a, b in windows(wlo, whi, s.FRAME_DAYS)})


def _runs(days: list[int]) -> Iterator[tuple[int, int]]:
    """Sorted days as (first, last) runs of consecutive days."""
    first = prev = days[0]
    for day in days[1:]:
        if day != prev + 1:
            yield first, prev
            first = day
        prev = day
    yield first, prev


def reread_tables(
    reader: FrameReader,
    plan: Rereads,
    marks: ItemMarks,
    table_name: str,
    tick: Progress,
    max_frames: int | None = None,
) -> Iterator[pa.Table]:
    """The planned reads, from where the last part stopped; at most `max_frames` calls in this part."""
    recon = _of(reader.report)
    frames = FrameTables(reader, marks, plan.enums, table_name, tick, max_frames)
    plan.replaced.clear()
    while not plan.done and not frames.spent():
        ids, lo, hi = plan.reads[plan.position]
        plan.position += 1
        ids = [i for i in ids if i not in reader.failed]
        if not ids:
            continue
        table, done = frames.read(ids, lo, hi, dict.fromkeys(ids, lo))
        plan.replaced += [(i, lo, hi) for i in done if (i, lo, hi) in plan.stale]
        if table is not None:
            recon.rows += table.num_rows
            yield table
