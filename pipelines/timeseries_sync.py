"""Runs the time-series sync: preflight the API, then one dlt pipeline run into the CRM's dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dlt

from pipelines.warehouse import WarehouseOptions, open_pipeline
from sources.clarify_timeseries import TimeseriesReport, clarify_timeseries
from sources.clarify_timeseries import settings as s
from sources.clarify_timeseries.frames import parse_ms
from sources.clarify_timeseries.rpc import RpcClient
from sources.common.errors import ClarifySyncError, ConfigError


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
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name("_dlt_pipeline_state")
            rows = client.execute_sql(f"select 1 from {table} where pipeline_name = '{pipeline.pipeline_name}' limit 1")
    except Exception:  # no dataset or no state table yet: nothing there to trust the local state with
        return False
    return bool(rows)


def preflight(client: RpcClient) -> None:
    """A token and one cheap call: bad credentials, a wrong URL or version fail here, before any write."""
    client.call("clarify.selectItems", {"query": {"limit": 1}})


def parse_since(since: str | None) -> int | None:
    if not since:
        return None
    try:
        return parse_ms(since if "T" in since else f"{since}T00:00:00Z")
    except ValueError:
        raise ConfigError(f"--since {since!r} is not an ISO-8601 date or timestamp: use e.g. 2025-01-31") from None


def run_timeseries_sync(
    client: RpcClient,
    warehouse: WarehouseOptions,
    *,
    since: str | None = None,
    until_ms: int | None = None,
    lag_seconds: int = s.DEFAULT_LAG_SECONDS,
    rollup: str | None = None,
    item_filter: dict[str, Any] | None = None,
    with_signals: bool = True,
    full_refresh: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    raise_on_failures: bool = True,
) -> TimeseriesReport:
    since_ms = parse_since(since)
    preflight(client)
    report = TimeseriesReport()
    pipeline = make_pipeline(warehouse)
    source = clarify_timeseries(
        client,
        since_ms=since_ms,
        until_ms=until_ms,
        lag_seconds=lag_seconds,
        rollup=rollup,
        item_filter=item_filter,
        with_signals=with_signals,
        report=report,
        progress=progress,
    )
    pipeline.run(source, refresh="drop_sources" if full_refresh else None)
    if report.failures and raise_on_failures:
        raise PartialSyncError(report)
    return report


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
        cursors[name] = len((state.get(name) or {}).get("cursors") or {})
    with pipeline.sql_client() as sql:
        for table, latest_col in (
            ("items", "updated_at"),
            ("signals", "updated_at"),
            ("data_points", "time"),
            ("data_rollups", "time"),
            ("_clarify_ts_push_watermarks", "last_time"),
            ("_clarify_ts_push_rejects", "last_failed_at"),
        ):
            try:
                count, latest = sql.execute_sql(
                    f"select count(*), max({latest_col}) from {sql.make_qualified_table_name(table)}"
                )[0]
            except Exception:
                continue
            rows.append(TimeseriesStatus(table, int(count), str(latest) if latest is not None else None))
    return rows, cursors
