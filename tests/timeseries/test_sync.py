"""Full and incremental syncs against the emulator, into DuckDB and Postgres."""

from __future__ import annotations

import pytest

from emulator.timeseries import TimeseriesState
from emulator.timeseries.data import DAY_MS
from pipelines.timeseries_sync import run_timeseries_sync
from pipelines.warehouse import WarehouseOptions
from sources.clarify_timeseries.frames import iso
from sources.clarify_timeseries.rpc import RpcClient
from tests.timeseries.helpers import expected_points, query, warehouse_points


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> WarehouseOptions:
    return request.getfixturevalue(f"{request.param}_warehouse")


def test_full_then_incremental_sync_equals_the_emulator(
    client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions
) -> None:
    since = ts.store.now_ms() - 10 * DAY_MS
    until = ts.store.now_ms() + 1
    report = run_timeseries_sync(client, warehouse, since=iso(since), until_ms=until, lag_seconds=1800)
    assert report.failures == []
    assert warehouse_points(warehouse) == expected_points(ts, since)
    # every item and label is there, labels queryable by key
    items = dict(query(warehouse, "select id, name from items"))
    assert set(items) == set(ts.store.items)
    some = sorted(ts.store.items)[0]
    labels = ts.store.items[some].resource.attributes["labels"]
    rows = query(warehouse, "select key, value from items__labels where item_id = %s", some)
    assert sorted(rows) == sorted((k, v) for k, vs in labels.items() for v in vs)
    # enum items carry their text
    enum_rows = query(warehouse, "select count(*) from data_points where enum_text is not null")
    assert enum_rows[0][0] > 0

    ts.clock.advance(6 * 3600)
    try:
        report = run_timeseries_sync(
            client, warehouse, since=iso(since), until_ms=ts.store.now_ms() + 1, lag_seconds=1800
        )
        assert report.unchanged.get("items") == len(ts.store.items)  # hashes unchanged: not reloaded
        assert 0 < report.rows["data_points"] < 10_000  # only the new hours (plus the lag window)
        assert warehouse_points(warehouse) == expected_points(ts, since)
    finally:
        ts.clock.advance(-6 * 3600)


def test_late_samples_inside_the_lag_window_arrive(
    client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions
) -> None:
    since = ts.store.now_ms() - 2 * DAY_MS
    run_timeseries_sync(
        client, duckdb_warehouse, since=iso(since), until_ms=ts.store.now_ms() + 1, lag_seconds=3600, with_signals=False
    )
    item_id = sorted(ts.store.items)[5]
    last = max(ts.store.samples(item_id, since, ts.store.now_ms() + 1))
    late = {last - 20 * 60_000 + 7: 1234.5}  # committed late, 20 minutes before the newest sample
    ts.store.add_samples(item_id, late)
    try:
        run_timeseries_sync(
            client,
            duckdb_warehouse,
            since=iso(since),
            until_ms=ts.store.now_ms() + 1,
            lag_seconds=3600,
            with_signals=False,
        )
        assert warehouse_points(duckdb_warehouse)[(item_id, last - 20 * 60_000 + 7)] == 1234.5
        assert warehouse_points(duckdb_warehouse) == expected_points(ts, since)
    finally:
        ts.store.add_samples(item_id, {ms: None for ms in late})


def test_item_filter_and_rollups(client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions) -> None:
    since = ts.store.now_ms() - 3 * DAY_MS
    flt = {"labels.site": "oslo"}
    oslo = [i for i, it in ts.store.items.items() if "oslo" in it.resource.attributes["labels"].get("site", [])]
    run_timeseries_sync(
        client,
        duckdb_warehouse,
        since=iso(since),
        until_ms=ts.store.now_ms() + 1,
        rollup="P1D",
        item_filter=flt,
        with_signals=False,
    )
    rows = query(duckdb_warehouse, "select item_id, sum(count), min(min), max(max) from data_rollups group by 1")
    expected = expected_points(ts, since - since % DAY_MS, oslo)
    assert {r[0] for r in rows} == set(oslo)
    for item_id, count, low, high in rows:
        values = [v for (i, _), v in expected.items() if i == item_id]
        assert (count, low, high) == (len(values), min(values), max(values))
