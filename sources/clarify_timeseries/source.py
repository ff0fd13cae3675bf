"""Clarify time series (JSON-RPC) as a dlt source: `items`, `signals` and `data_points` (or `data_rollups`).

- `items` / `signals`: one row per resource, attributes flattened, merged on `id`; labels in the child tables
  `items__labels(item_id, key, value)` / `signals__labels(signal_id, key, value)`. A resource whose
  attributes and relationships hashes are unchanged since the last run is not loaded again. One that
  Clarify no longer has is removed, with its labels (`report.deleted`); `pipelines/timeseries_sync.py`
  removes a deleted item's data points.
- `data_points`: long table (`item_id`, `time`, `value`, `enum_text`), merged on (`item_id`, `time`), as
  arrow tables, read incrementally per item (see `reading.py`); at most `max_frames` calls per load, the
  rest in the next part (`report.more_data`). With `rereads` (a reconcile's plan, see `reconcile.py`) it reads
  those windows instead, and stamps the resource state when the plan is done.
- `data_rollups` (with `rollup="PT1H"` etc.): min/max/avg/sum/count per bucket, merged on
  (`item_id`, `time`, `rollup`), windows of up to 400 days.
Times are microseconds since the epoch; nothing is skipped silently (`report.failures`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

import sources.clarify_timeseries.settings as s
from core.timefmt import DAY_US
from sources.clarify_timeseries.frames import TIME_COLUMNS
from sources.clarify_timeseries.reading import DataWindow, FrameReader, ItemMarks, Progress, data_tables
from sources.clarify_timeseries.reconcile import Rereads, mark_reconciled, reconciled_at, reread_tables
from sources.clarify_timeseries.report import TimeseriesReport
from sources.clarify_timeseries.resources import (
    RESOURCE_COLUMNS,
    changed_rows,
    gone,
    item_row,
    select_all,
    signal_row,
)
from sources.clarify_timeseries.rpc import RpcClient


class _Listings:
    """Each listing read once per run, and which stored ids Clarify no longer has."""

    def __init__(self, rpc: RpcClient, item_filter: dict[str, Any] | None):
        self.rpc = rpc
        self.item_filter = item_filter
        self._views: dict[str, list[dict[str, Any]]] = {}
        self._gone: dict[str, list[str]] = {}

    def _method(self, name: str) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        if name == "items":
            return "clarify.selectItems", {}, self.item_filter
        return "admin.selectSignals", {"integration": self.rpc.integration}, None

    def views(self, name: str) -> list[dict[str, Any]]:
        if name not in self._views:
            method, extra, flt = self._method(name)
            self._views[name] = [view for page in select_all(self.rpc, method, extra, flt) for view in page]
        return self._views[name]

    def gone(self, name: str) -> list[str]:
        if name not in self._gone:
            stored = dlt.current.resource_state(name).get("hashes") or {}
            missing = sorted(set(stored) - {view["id"] for view in self.views(name)})
            method, extra, _ = self._method(name)
            self._gone[name] = gone(self.rpc, method, extra, missing) if missing else []
        return self._gone[name]


def _resource(
    name: str, listings: _Listings, to_row: Callable[..., dict[str, Any]], rep: TimeseriesReport, tick: Progress
) -> Any:
    def rows() -> Iterator[dict[str, Any]]:
        hashes: dict[str, str] = dlt.current.resource_state().setdefault("hashes", {})
        yield from changed_rows(name, listings.views(name), hashes, listings.gone(name), to_row, rep)
        tick(name, rep.rows.get(name, 0), 1)

    return dlt.resource(rows, name=name, primary_key="id", write_disposition="merge", columns=RESOURCE_COLUMNS)


def data_window(since_us: int | None, until_us: int | None, lag_seconds: int, rollup: str | None) -> DataWindow:
    """From `since_us` (default: `DEFAULT_HISTORY_DAYS` back) up to `until_us` (default: now)."""
    now = until_us if until_us is not None else time.time_ns() // 1000
    since = since_us if since_us is not None else now - s.DEFAULT_HISTORY_DAYS * DAY_US
    return DataWindow(since, now, lag_seconds * 1_000_000, rollup)


@dlt.source(name="clarify_timeseries", max_table_nesting=1)
def clarify_timeseries(
    client: Any,
    since_us: int | None = None,
    until_us: int | None = None,
    lag_seconds: int = s.DEFAULT_LAG_SECONDS,
    rollup: str | None = None,
    item_filter: dict[str, Any] | None = None,
    with_signals: bool = True,
    report: Any = None,
    progress: Any = None,
    max_frames: int | None = None,
    metadata: bool = True,
    rereads: Rereads | None = None,
) -> Iterator[DltResource]:
    """`metadata=False` (the later parts of a sync) leaves out `items` and `signals`: the first part has them."""
    rpc: RpcClient = client
    rep: TimeseriesReport = report if report is not None else TimeseriesReport()
    tick: Progress = progress or (lambda name, records, pages: None)
    window = data_window(since_us, until_us, lag_seconds, rollup)
    listings = _Listings(rpc, item_filter)
    table_name = "data_rollups" if rollup else "data_points"

    def data() -> Iterator[Any]:
        state = dlt.current.resource_state()
        if rereads is not None:
            reader = FrameReader(rpc, None, rep, rep.failed_items)
            yield from reread_tables(reader, rereads, ItemMarks.of(state), table_name, tick, max_frames)
            if rereads.done:
                mark_reconciled(state, window.now)
            return
        marks = ItemMarks.of(state)
        if rollup is None and not marks.latest and reconciled_at(state) is None:
            mark_reconciled(state, window.now)  # a first sync reads everything: nothing can be missing yet
        marks.forget(listings.gone("items"))
        reader = FrameReader(rpc, rollup, rep, rep.failed_items)
        yield from data_tables(reader, listings.views("items"), marks, window, table_name, tick, max_frames)

    if metadata:
        yield _resource("items", listings, item_row, rep, tick)
    if metadata and with_signals:
        yield _resource("signals", listings, signal_row, rep, tick)
    key: tuple[str, ...] = ("item_id", "time", "rollup") if rollup else ("item_id", "time")
    columns = {**TIME_COLUMNS, "rollup": {"data_type": "text", "nullable": False}} if rollup else TIME_COLUMNS
    yield dlt.resource(data, name=table_name, write_disposition="merge", primary_key=key, columns=columns)


__all__ = ["TimeseriesReport", "clarify_timeseries"]
