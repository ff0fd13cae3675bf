"""The reconcile pass of `timeseries sync`: when it is due, the warehouse's side of the comparison, the plan.

It runs after the sync's own parts have loaded, so both sides describe the same window ([since, the sync's
now)): with `--reconcile`, or when the last pass (kept in the `data_points` resource state, committed with the
pass's last load) is `[sources.clarify_timeseries] reconcile_every_hours` old. The warehouse's counts and sums
per item and UTC day are read here, before any extraction, through our own SQL layer; the API's come from
`sources/clarify_timeseries/reconcile.py`, which also plans the re-reads.
"""

from __future__ import annotations

from typing import Any

import dlt

import sources.clarify_timeseries.settings as s
from core.errors import ConfigError
from core.timefmt import DAY_US, from_us
from core.warehouse.sql import pipeline_sql, quote
from sources.clarify_timeseries.reading import DataWindow, enum_texts
from sources.clarify_timeseries.reconcile import (
    Days,
    DayStats,
    Rereads,
    api_days,
    differing_days,
    plan_rereads,
    reconciled_at,
)
from sources.clarify_timeseries.report import ReconcileReport, TimeseriesReport
from sources.clarify_timeseries.resources import select_all
from sources.clarify_timeseries.rpc import RpcClient

SETTING = "sources.clarify_timeseries.reconcile_every_hours"
_DELETE_CHUNK = 100  # windows per DELETE statement
_TIME = quote("time")


def reconcile_interval() -> float:
    """Seconds between automatic passes: the setting, else `DEFAULT_RECONCILE_HOURS`."""
    try:
        hours = dlt.config.get(SETTING)
    except Exception:  # no config at all: the default
        hours = None
    try:
        return float(hours if hours not in (None, "") else s.DEFAULT_RECONCILE_HOURS) * 3600
    except (TypeError, ValueError):
        raise ConfigError(f"{SETTING} = {hours!r} is not a number of hours") from None


def reconcile_due(pipeline: dlt.Pipeline, reconcile: bool | None, interval_s: float, now_us: int) -> bool:
    """`reconcile` when given; else whether the last pass is `interval_s` old (or never ran)."""
    if reconcile is not None:
        return reconcile
    sources = pipeline.state.get("sources", {})
    state = sources.get(s.PIPELINE_NAME, {}).get("resources", {}).get("data_points", {})
    last = reconciled_at(state)
    return last is None or now_us - last >= interval_s * 1_000_000


def plan_reconcile(
    client: RpcClient,
    pipeline: dlt.Pipeline,
    report: TimeseriesReport,
    window: DataWindow,
    item_filter: dict[str, Any] | None,
) -> Rereads:
    """Compare the listed items' days in the window; what differs becomes the plan of re-reads."""
    views = [view for page in select_all(client, "clarify.selectItems", {}, item_filter) for view in page]
    ids = sorted(view["id"] for view in views if view["id"] not in report.failed_items)
    days = (window.now - 1) // DAY_US - window.since // DAY_US + 1  # the UTC days the window touches
    report.reconcile = ReconcileReport(items=len(ids), days=days)
    ours = warehouse_days(pipeline, window.since, window.now)
    theirs = api_days(client, report, ids, window.since, window.now)
    plan = plan_rereads(differing_days(theirs, ours, ids), ours, window.since, window.now, enum_texts(views))
    report.reconcile.windows = sum(len(ids) for ids, _, _ in plan.reads)
    return plan


def warehouse_days(pipeline: dlt.Pipeline, lo: int, hi: int) -> Days:
    """Per item and UTC day in [lo, hi): the count, sum and sum of magnitudes of `data_points`."""
    with pipeline_sql(pipeline) as sql:
        if not sql.table_exists("data_points"):
            return {}
        rows = sql.fetchall(
            f"SELECT item_id, {sql.epoch_day(_TIME)}, count(*), sum(value), sum(abs(value)) "
            f"FROM {sql.table('data_points')} WHERE {_TIME} >= {sql.param} AND {_TIME} < {sql.param} GROUP BY 1, 2",
            (from_us(lo), from_us(hi)),
        )
    days: Days = {}
    for item_id, day, count, total, magnitude in rows:
        days.setdefault(item_id, {})[int(day)] = DayStats(int(count), float(total or 0), float(magnitude or 0))
    return days


def delete_windows(pipeline: dlt.Pipeline, windows: list[tuple[str, int, int]]) -> None:
    """Remove the rows of each (item, [lo, hi)) window: the load that follows brings what the API holds there."""
    with pipeline_sql(pipeline) as sql:
        for start in range(0, len(windows), _DELETE_CHUNK):
            part = windows[start : start + _DELETE_CHUNK]
            one = f"(item_id = {sql.param} AND {_TIME} >= {sql.param} AND {_TIME} < {sql.param})"
            params = [value for item_id, lo, hi in part for value in (item_id, from_us(lo), from_us(hi))]
            sql.execute(f"DELETE FROM {sql.table('data_points')} WHERE {' OR '.join([one] * len(part))}", params)
