"""Shared helpers: what the emulator holds, what the warehouse holds, the root cause of a failed run."""

from __future__ import annotations

from typing import Any

from destinations.clarify_timeseries.tables import to_ms
from emulator.timeseries import TimeseriesState
from pipelines.options import root_cause
from pipelines.timeseries_sync import make_pipeline
from pipelines.warehouse import WarehouseOptions


def expected_points(
    ts: TimeseriesState, since_ms: int, item_ids: list[str] | None = None
) -> dict[tuple[str, int], float]:
    now = ts.store.now_ms() + 1
    out = {}
    for item_id in item_ids or list(ts.store.items):
        for ms, value in ts.store.samples(item_id, since_ms, now).items():
            out[(item_id, ms)] = value
    return out


def warehouse_points(warehouse: WarehouseOptions, table: str = "data_points") -> dict[tuple[str, int], float]:
    with make_pipeline(warehouse).sql_client() as sql:
        rows = sql.execute_sql(f"select item_id, time, value from {sql.make_qualified_table_name(table)}")
    return {(item_id, to_ms(time)): value for item_id, time, value in rows}


def query(warehouse: WarehouseOptions, text: str, *args: Any) -> list[tuple[Any, ...]]:
    with make_pipeline(warehouse).sql_client() as sql:
        return [tuple(row) for row in sql.execute_sql(text, *args) or []]


def cause(exc: BaseException) -> BaseException:
    return root_cause(exc) or exc
