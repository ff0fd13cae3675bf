"""Clarify time series (JSON-RPC) as a dlt source: `items`, `signals` and `data_points` (or `data_rollups`).

- `items` / `signals`: one row per resource, attributes flattened, merged on `id`; labels in the child tables
  `items__labels(item_id, key, value)` / `signals__labels(signal_id, key, value)`. A resource whose
  attributes and relationships hashes are unchanged since the last run is not loaded again.
- `data_points`: long table (`item_id`, `time`, `value`, `enum_text`), merged on (`item_id`, `time`), as
  arrow tables. Each item has its own cursor (latest sample time, in dlt state); each run re-reads
  `lag_seconds` before it to catch late samples. Requests respect the API's 50 items / 40 days per call.
- `data_rollups` (with `rollup="PT1H"` etc.): min/max/avg/sum/count per bucket, merged on
  (`item_id`, `time`, `rollup`), windows of up to 400 days.
A -32021 partial failure while reading is retried item by item; items that still fail are reported in
`report.failures` and keep their cursor, so the next run picks them up. Nothing else is skipped silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
import pendulum
from dlt.sources import DltResource

from sources.clarify_timeseries import settings as s
from sources.clarify_timeseries.frames import (
    DAY_MS,
    TIME_COLUMNS,
    chunks,
    iso,
    points_table,
    rollup_table,
    windows,
)
from sources.clarify_timeseries.resources import (
    RESOURCE_COLUMNS,
    item_row,
    resource_hash,
    select_all,
    signal_row,
)
from sources.clarify_timeseries.rpc import PartialFailureError, RpcClient
from sources.common.errors import ConfigError

Progress = Callable[[str, int, int], None]


@dataclass
class TimeseriesReport:
    """What one sync did: rows per table, unchanged resources skipped, and anything that failed."""

    rows: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows


def _rollup_ms(rollup: str) -> int:
    try:
        parsed = pendulum.parse(rollup)
    except Exception:
        parsed = None
    if not isinstance(parsed, pendulum.Duration) or parsed.months or parsed.years or parsed.total_seconds() <= 0:
        raise ConfigError(f"rollup {rollup!r} is not a fixed ISO 8601 duration: use e.g. PT1H or P1D")
    return int(parsed.total_seconds() * 1000)


@dlt.source(name="clarify_timeseries", max_table_nesting=1)
def clarify_timeseries(
    client: Any,
    since_ms: int | None = None,
    until_ms: int | None = None,
    lag_seconds: int = s.DEFAULT_LAG_SECONDS,
    rollup: str | None = None,
    item_filter: dict[str, Any] | None = None,
    with_signals: bool = True,
    report: Any = None,
    progress: Any = None,
) -> Iterator[DltResource]:
    rpc: RpcClient = client
    rep: TimeseriesReport = report if report is not None else TimeseriesReport()
    tick: Progress = progress or (lambda name, records, pages: None)
    now = until_ms if until_ms is not None else int(time.time() * 1000)
    since = since_ms if since_ms is not None else now - s.DEFAULT_HISTORY_DAYS * DAY_MS
    bucket = _rollup_ms(rollup) if rollup else None
    cache: dict[str, list[dict[str, Any]]] = {}

    def all_items() -> list[dict[str, Any]]:
        if "items" not in cache:
            views: list[dict[str, Any]] = []
            for page in select_all(rpc, "clarify.selectItems", {}, item_filter):
                views.extend(page)
            cache["items"] = views
        return cache["items"]

    def changed_only(
        name: str, views: list[dict[str, Any]], to_row: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Iterator[dict[str, Any]]:
        hashes: dict[str, str] = dlt.current.resource_state().setdefault("hashes", {})
        rows = 0
        for view in views:
            digest = resource_hash(view)
            if hashes.get(view["id"]) == digest:
                rep.unchanged[name] = rep.unchanged.get(name, 0) + 1
                continue
            hashes[view["id"]] = digest
            rows += 1
            yield to_row(view)
        rep.add(name, rows)
        tick(name, rows, 1)

    @dlt.resource(name="items", primary_key="id", write_disposition="merge", columns=RESOURCE_COLUMNS)
    def items() -> Iterator[dict[str, Any]]:
        yield from changed_only("items", all_items(), item_row)

    @dlt.resource(name="signals", primary_key="id", write_disposition="merge", columns=RESOURCE_COLUMNS)
    def signals() -> Iterator[dict[str, Any]]:
        views: list[dict[str, Any]] = []
        for page in select_all(rpc, "admin.selectSignals", {"integration": rpc.integration}, None):
            views.extend(page)
        yield from changed_only("signals", views, signal_row)

    def frames_for(ids: list[str], lo: int, hi: int, failed: set[str]) -> Iterator[dict[str, Any]]:
        """dataFrame results for `ids` in [lo, hi); a partial failure is retried one item at a time."""

        def one(selection: list[str]) -> dict[str, Any]:
            data: dict[str, Any] = {"filter": {"times": {"$gte": iso(lo), "$lt": iso(hi)}}}
            if rollup:
                data["rollup"] = rollup
            result = rpc.call(
                "clarify.dataFrame",
                {
                    "query": {"filter": {"id": {"$in": selection}}, "limit": len(selection)},
                    "data": data,
                    "format": {"dataAsArray": True},
                },
            )
            frame = result.get("data") or {}
            if not isinstance(frame, dict):
                frame = {}
            return frame

        try:
            yield one(ids)
            return
        except PartialFailureError:
            pass  # read them one by one: keep every item that reads, report the ones that do not
        for item_id in ids:
            try:
                yield one([item_id])
            except PartialFailureError as exc:
                failed.add(item_id)
                rep.failures.append(f"{item_id} [{iso(lo)} .. {iso(hi)}): {exc}")

    def data(table_name: str) -> Iterator[Any]:
        state = dlt.current.resource_state()
        cursors: dict[str, int] = state.setdefault("cursors", {})
        views = all_items()
        lag = lag_seconds * 1000
        starts: dict[str, int] = {}
        for view in views:
            cursor = cursors.get(view["id"])
            start = since if cursor is None else max(since, cursor - lag)
            if bucket:
                start -= start % bucket
            starts[view["id"]] = start
        enums = {
            view["id"]: {str(k): v for k, v in ((view.get("attributes") or {}).get("enumValues") or {}).items()}
            for view in views
            if (view.get("attributes") or {}).get("valueType") == "enum"
        }
        span = s.ROLLUP_DAYS if bucket and bucket > 60_000 else s.FRAME_DAYS
        failed: set[str] = set()
        total = calls = 0
        for chunk in chunks(starts, s.FRAME_ITEMS):
            for lo, hi in windows(min(starts[i] for i in chunk), now, span):
                ids = [i for i in chunk if starts[i] < hi and i not in failed]
                if not ids:
                    continue
                for frame in frames_for(ids, lo, hi, failed):
                    calls += 1
                    selection = {i: starts[i] for i in ids if i not in failed}
                    if bucket:
                        table, latest = rollup_table(frame, selection, rollup or "")
                    else:
                        table, latest = points_table(frame, selection, enums)
                    for item_id, ms in latest.items():
                        cursors[item_id] = max(cursors.get(item_id, 0), ms)
                    if table.num_rows:
                        total += table.num_rows
                        rep.add(table_name, table.num_rows)
                        tick(table_name, total, calls)
                        yield table
        rep.calls["clarify.dataFrame"] = rep.calls.get("clarify.dataFrame", 0) + calls

    yield items
    if with_signals:
        yield signals
    if bucket:
        yield dlt.resource(
            data,
            name="data_rollups",
            write_disposition="merge",
            primary_key=("item_id", "time", "rollup"),
            columns={**TIME_COLUMNS, "rollup": {"data_type": "text", "nullable": False}},
        )("data_rollups")
    else:
        yield dlt.resource(
            data,
            name="data_points",
            write_disposition="merge",
            primary_key=("item_id", "time"),
            columns=TIME_COLUMNS,
        )("data_points")


__all__ = ["TimeseriesReport", "clarify_timeseries"]
