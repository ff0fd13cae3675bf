"""Shared helpers: what the emulator holds, what the warehouse holds, the root cause of a failed run.

Times are microseconds since the epoch, as the client keeps them.
"""

from __future__ import annotations

from typing import Any

from core.warehouse.options import WarehouseOptions
from destinations.clarify_timeseries.tables import as_us
from emulator.timeseries import TimeseriesState
from pipelines.cli.options import root_cause
from pipelines.timeseries_sync import make_pipeline

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


def expected_points(
    ts: TimeseriesState, since_us: int, item_ids: list[str] | None = None
) -> dict[tuple[str, int], float]:
    now = ts.store.now_us() + 1
    out = {}
    for item_id in item_ids if item_ids is not None else list(ts.store.items):
        for us, value in ts.store.samples_us(item_id, since_us, now).items():
            out[(item_id, us)] = value
    return out


def warehouse_points(warehouse: WarehouseOptions, table: str = "data_points") -> dict[tuple[str, int], float]:
    with make_pipeline(warehouse).sql_client() as sql:
        rows = sql.execute_sql(f"select item_id, time, value from {sql.make_qualified_table_name(table)}")
    return {(item_id, as_us(time)): value for item_id, time, value in rows}


def query(warehouse: WarehouseOptions, text: str, *args: Any) -> list[tuple[Any, ...]]:
    with make_pipeline(warehouse).sql_client() as sql:
        return [tuple(row) for row in sql.execute_sql(text, *args) or []]


def cause(exc: BaseException) -> BaseException:
    return root_cause(exc) or exc
