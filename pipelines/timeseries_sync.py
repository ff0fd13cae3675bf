"""Runs the time-series sync (preflight the API, then dlt pipeline runs into the CRM's dataset) and push.

A sync loads in parts of at most `frames_per_load` dataFrame calls, each committing its rows and the items'
marks together, so a load's size is bounded and a crash costs at most a part. Each part is dlt's extract,
normalize and load in turn; in the first, one step sits between extract and normalize: the data points of
items the extract found deleted in Clarify are removed, before the load commits the state that forgets
those items, so a crash anywhere leaves them to be found and removed again by the next run. Then, when asked
for or due, the reconcile pass (`timeseries_reconcile.py`): its re-reads load in parts the same way, the old
rows of each window it replaces deleted at the same step; its stamp commits with its last part, so a crash
leaves it due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dlt

import sources.clarify_timeseries.settings as s
from core.errors import ClarifySyncError, ConfigError, WarehouseError
from core.timefmt import parse_us
from core.warehouse.options import WarehouseOptions
from core.warehouse.pipeline import open_pipeline, uncompressed_load_files
from core.warehouse.sql import PipelineSQL, pipeline_sql
from destinations.clarify_timeseries import TimeseriesPushReport, push_timeseries
from pipelines.run_records import recorded, watch_requests
from pipelines.timeseries_reconcile import delete_windows, plan_reconcile, reconcile_due, reconcile_interval
from sources.clarify_timeseries.reading import DataWindow
from sources.clarify_timeseries.reconcile import Rereads
from sources.clarify_timeseries.rpc import RpcClient
from sources.clarify_timeseries.source import TimeseriesReport, clarify_timeseries, data_window


class PartialSyncError(ClarifySyncError):
    """Everything that could be read was loaded; some items could not be read (listed in the report)."""

    def __init__(self, report: TimeseriesReport):
        first = report.failures[0] if report.failures else ""
        super().__init__(
            f"{len(report.failures)} item window(s) could not be read and keep their cursor "
            f"(first: {first}): run the sync again"
        )
        self.report = report


def make_pipeline(warehouse: WarehouseOptions, name: str = s.PIPELINE_NAME) -> dlt.Pipeline:
    """The time-series pipeline. Its state says which items and signals are unchanged, so it is only trusted
    while the warehouse still holds that pipeline's state (tables dropped or a file replaced: start over)."""
    pipeline = open_pipeline(name, warehouse)
    if not pipeline.first_run and not _warehouse_has_state(pipeline):
        pipeline.drop()
        pipeline = open_pipeline(name, warehouse)
    return pipeline


def _warehouse_has_state(pipeline: dlt.Pipeline) -> bool:
    try:
        with pipeline_sql(pipeline) as sql:
            table = sql.table("_dlt_pipeline_state")
            rows = sql.fetchall(
                f"select 1 from {table} where pipeline_name = {sql.param} limit 1", (pipeline.pipeline_name,)
            )
    except Exception:  # no dataset or no state table yet: nothing there to trust the local state with
        return False
    return bool(rows)


def preflight(client: RpcClient) -> None:
    """A token and one cheap call: bad credentials, a wrong URL or version fail here, before any write."""
    client.call("clarify.selectItems", {"query": {"limit": 1}, "format": s.SELECTION_FORMAT})


def parse_since(text: str | None, flag: str = "--since") -> int | None:
    """A date (midnight UTC) or timestamp from the command line, in microseconds."""
    if not text:
        return None
    try:
        return parse_us(text if "T" in text else f"{text}T00:00:00Z")
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not an ISO-8601 date or timestamp: use e.g. 2025-01-31") from None


@dataclass(frozen=True)
class TimeseriesSyncOptions:
    """What `run_timeseries_sync` reads, besides the client and the warehouse."""

    since: str | None = None
    until_us: int | None = None
    lag_seconds: int = s.DEFAULT_LAG_SECONDS
    rollup: str | None = None
    item_filter: dict[str, Any] | None = None
    with_signals: bool = True
    full_refresh: bool = False
    reconcile: bool | None = None  # None: when the last pass is older than the interval
    reconcile_interval: float | None = None  # seconds; None: [sources.clarify_timeseries] reconcile_every_hours
    frames_per_load: int = s.FRAMES_PER_LOAD


@recorded("timeseries sync")
def run_timeseries_sync(
    client: RpcClient,
    warehouse: WarehouseOptions,
    options: TimeseriesSyncOptions | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    raise_on_failures: bool = True,
    **settings: Any,
) -> TimeseriesReport:
    """The sync's parts, then the reconcile pass when it is asked for or due (see timeseries_reconcile.py).
    `settings` are `TimeseriesSyncOptions` fields, for callers that pass no `options`."""
    o = options or TimeseriesSyncOptions(**settings)
    interval = _reconcile_interval(o, warehouse)
    since_us = parse_since(o.since)
    watch_requests(client.http.stats)
    preflight(client)
    report = TimeseriesReport()
    pipeline = make_pipeline(warehouse)
    window = data_window(since_us, o.until_us, o.lag_seconds, o.rollup)  # one "now" for every part
    parts = _Parts(pipeline, warehouse, client, report, window, o, progress)
    while report.loads == 0 or report.more_data:
        parts.load(metadata=report.loads == 0)
    if interval is not None and reconcile_due(pipeline, o.reconcile, interval, window.now):
        plan = plan_reconcile(client, pipeline, report, window, o.item_filter)
        report.more_data = True
        while report.more_data:
            parts.load(rereads=plan)
    if report.failures and raise_on_failures:
        raise PartialSyncError(report)
    return report


def _reconcile_interval(o: TimeseriesSyncOptions, warehouse: WarehouseOptions) -> float | None:
    """Seconds between automatic reconcile passes; None where there is none (rollups, other destinations)."""
    refused = (
        "--reconcile compares raw data points: run it without --rollup"
        if o.rollup
        else f"--reconcile counts days in duckdb or postgres, not {warehouse.destination}"
        if warehouse.destination not in ("duckdb", "postgres")
        else None
    )
    if refused and o.reconcile:
        raise ConfigError(refused)
    if refused or o.reconcile is False:
        return None
    return reconcile_interval() if o.reconcile_interval is None else o.reconcile_interval


@dataclass
class _Parts:
    """Loads one part at a time: extract (at most `frames_per_load` calls), the deletions it asks for, then
    normalize and load, which commit its rows and the items' marks together."""

    pipeline: dlt.Pipeline
    warehouse: WarehouseOptions
    client: RpcClient
    report: TimeseriesReport
    window: DataWindow
    options: TimeseriesSyncOptions
    progress: Callable[[str, int, int], None] | None

    def load(self, *, metadata: bool = False, rereads: Rereads | None = None) -> None:
        o, report = self.options, self.report
        report.more_data = False
        source = clarify_timeseries(
            self.client,
            since_us=self.window.since,
            until_us=self.window.now,
            lag_seconds=o.lag_seconds,
            rollup=o.rollup,
            item_filter=o.item_filter,
            with_signals=o.with_signals,
            report=report,
            progress=self.progress,
            max_frames=o.frames_per_load,
            metadata=metadata,
            rereads=rereads,
        )
        first = report.loads == 0
        self.pipeline.extract(source, refresh="drop_sources" if o.full_refresh and first else None)
        if first and report.deleted.get("items"):
            _delete_item_data(self.pipeline, report.deleted["items"])
        if rereads is not None and rereads.replaced:
            delete_windows(self.pipeline, rereads.replaced)
            assert report.reconcile is not None
            report.reconcile.replaced += len(rereads.replaced)
        with uncompressed_load_files(self.warehouse):  # Postgres `COPY`s them: gzip would only cost CPU
            self.pipeline.normalize()
        self.pipeline.load()
        report.loads += 1


@recorded("timeseries push")
def run_timeseries_push(
    client: RpcClient,
    warehouse: WarehouseOptions,
    *,
    query: str | None = None,
    signals_from: str | None = None,
    publish: bool = False,
    chunk_size: int = s.INSERT_TIMES,
) -> TimeseriesPushReport:
    """Credentials and version checked before the warehouse is opened and anything is written."""
    if not query and not signals_from:
        raise ConfigError("nothing to push: pass --sql 'select time, input_id, value from ...' and/or --signals-from")
    watch_requests(client.http.stats)
    preflight(client)
    try:
        pipeline = make_pipeline(warehouse)
        sql_client = pipeline.sql_client()
    except Exception as exc:
        raise WarehouseError(
            f"cannot open the warehouse ({exc.__class__.__name__}): check --destination and its settings"
        ) from None
    with sql_client:
        return push_timeseries(
            client,
            PipelineSQL(sql_client, warehouse.destination),
            query=query,
            signals_from=signals_from,
            publish=publish,
            chunk_size=chunk_size,
        )


def _delete_item_data(pipeline: dlt.Pipeline, item_ids: list[str]) -> None:
    """Remove the samples and rollups of deleted items (dlt's hard delete needs every (item_id, time) key)."""
    with pipeline_sql(pipeline) as sql:
        for table in ("data_points", "data_rollups"):
            if sql.table_exists(table):
                sql.delete_in(table, "item_id", item_ids)


@dataclass(frozen=True)
class TimeseriesStatus:
    table: str
    rows: int | None
    latest: str | None


def timeseries_status(warehouse: WarehouseOptions) -> tuple[list[TimeseriesStatus], dict[str, int]]:
    """Row counts and latest times per table, and how many items have a cursor."""
    pipeline = make_pipeline(warehouse)
    rows: list[TimeseriesStatus] = []
    cursors: dict[str, int] = {}
    try:
        pipeline.sync_destination()
    except Exception:
        pass
    state = pipeline.state.get("sources", {}).get("clarify_timeseries", {}).get("resources", {})
    for name in ("data_points", "data_rollups"):
        resource = state.get(name) or {}
        cursors[name] = len(resource.get("cursors_us") or resource.get("cursors") or {})
    with pipeline_sql(pipeline) as sql:
        for table, latest_col in (
            ("items", "updated_at"),
            ("signals", "updated_at"),
            ("data_points", "time"),
            ("data_rollups", "time"),
            ("_clarify_ts_push_watermarks", "last_time"),
            ("_clarify_ts_push_rejects", "last_failed_at"),
        ):
            try:
                count, latest = sql.fetchall(f"select count(*), max({latest_col}) from {sql.table(table)}")[0]
            except Exception:
                continue
            rows.append(TimeseriesStatus(table, int(count), str(latest) if latest is not None else None))
    return rows, cursors
