"""Full and incremental syncs against the emulator, into DuckDB and Postgres: late samples, renames, deletions.

Windows come from the emulator's own clock (`ts.store.now_us()`), never from the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.timefmt import iso_us as iso
from core.timefmt import parse_us
from core.warehouse.options import WarehouseOptions
from emulator.timeseries import TimeseriesConfig, TimeseriesState
from pipelines.timeseries_sync import run_timeseries_sync
from sources.clarify_timeseries.rpc import RpcClient
from tests.timeseries.conftest import demo_item_ids, own_emulator
from tests.timeseries.helpers import DAY_US, HOUR_US, expected_points, query, warehouse_points


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> WarehouseOptions:
    return request.getfixturevalue(f"{request.param}_warehouse")


@pytest.fixture
def own(ts_now: str, tmp_path: Path) -> Iterator[tuple[TimeseriesState, RpcClient]]:
    """An emulator of the test's own, for tests that change the upstream data (rename, delete, late samples)."""
    with own_emulator(tmp_path, TimeseriesConfig(seed=11, items=12, history_days=5, now=ts_now)) as (state, rpc, _):
        yield state, rpc


def _sync(client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions, since: int, **kwargs: object):  # noqa: ANN202
    return run_timeseries_sync(client, warehouse, since=iso(since), until_us=ts.store.now_us() + 1, **kwargs)  # type: ignore[arg-type]


def test_full_then_incremental_sync_equals_the_emulator(
    client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions
) -> None:
    since = ts.store.now_us() - 10 * DAY_US
    report = _sync(client, ts, warehouse, since, lag_seconds=1800)
    assert report.failures == []
    assert warehouse_points(warehouse) == expected_points(ts, since)
    if warehouse.destination == "postgres":  # its load files are not gzipped (`uncompressed_load_files`)
        jobs = [p.name for p in Path(warehouse.pipelines_dir or "").glob("**/completed_jobs/*")]
        assert jobs and not [name for name in jobs if name.endswith(".gz")]
    # every item and label is there, labels queryable by key
    items = dict(query(warehouse, "select id, name from items"))
    assert set(items) == set(ts.store.items)
    some = demo_item_ids(ts)[0]
    labels = ts.store.items[some].resource.attributes["labels"]
    rows = query(warehouse, "select key, value from items__labels where item_id = %s", some)
    assert sorted(rows) == sorted((k, v) for k, vs in labels.items() for v in vs)
    # enum items carry their text, every sample of them
    enums = {
        i: it.resource.attributes["enumValues"]
        for i, it in ts.store.items.items()
        if it.resource.attributes["enumValues"]
    }
    texts = query(warehouse, "select item_id, value, enum_text from data_points where enum_text is not null")
    assert len(texts) == sum(1 for (i, _) in expected_points(ts, since) if i in enums) > 0
    assert all(text == enums[i][str(int(value))] for i, value, text in texts)

    ts.clock.advance(6 * 3600)
    try:
        report = _sync(client, ts, warehouse, since, lag_seconds=1800)
        assert report.unchanged.get("items") == len(ts.store.items)  # hashes unchanged: not reloaded
        new = {k: v for k, v in expected_points(ts, since).items() if k[1] >= ts.store.now_us() - 6 * HOUR_US}
        assert len(new) <= report.rows["data_points"] < len(new) + 60 * 12  # the new hours plus the lag window
        assert warehouse_points(warehouse) == expected_points(ts, since)
    finally:
        ts.clock.advance(-6 * 3600)


def _late(ts: TimeseriesState, item_id: str, samples: dict[int, float | None]) -> None:
    """A late commit upstream, at microsecond times (the overlay the emulator's signals keep)."""
    with ts.store.lock:
        ts.store.signals[ts.store.items[item_id].signal_id].overlay.update(samples)  # type: ignore[index]


def test_late_samples_inside_the_lag_window_arrive(
    own: tuple[TimeseriesState, RpcClient], warehouse: WarehouseOptions
) -> None:
    ts, client = own
    since = ts.store.now_us() - 2 * DAY_US
    _sync(client, ts, warehouse, since, lag_seconds=3600, with_signals=False)
    # the item with the most recent sample: its cursor is at that sample, whatever the clock says
    newest = {i: max(ts.store.samples_us(i, since, ts.store.now_us() + 1), default=0) for i in ts.store.items}
    item_id = max(sorted(newest), key=lambda i: newest[i])
    assert newest[item_id] > since
    late = newest[item_id] - 20 * 60_000_000  # committed late, 20 minutes before the newest sample
    # two samples within one millisecond stay two samples, at their exact microsecond
    _late(ts, item_id, {late + 7: 1234.5, late + 8: 1234.25})
    report = _sync(client, ts, warehouse, since, lag_seconds=3600, with_signals=False)
    got = warehouse_points(warehouse)
    assert (got[(item_id, late + 7)], got[(item_id, late + 8)]) == (1234.5, 1234.25)
    assert got == expected_points(ts, since)
    assert report.rows["data_points"] < len(got) / 4  # an incremental read, not a reload

    # outside the lag window a late sample is not looked for (documented: --lag-seconds bounds it)
    older = newest[item_id] - 3 * HOUR_US + 1
    _late(ts, item_id, {older: 99.0})
    _sync(client, ts, warehouse, since, lag_seconds=3600, with_signals=False)
    assert (item_id, older) not in warehouse_points(warehouse)


def test_renamed_item_is_updated_in_place(own: tuple[TimeseriesState, RpcClient], warehouse: WarehouseOptions) -> None:
    ts, client = own
    since = ts.store.now_us() - DAY_US
    _sync(client, ts, warehouse, since)
    item_id = sorted(ts.store.items)[3]
    points = warehouse_points(warehouse)
    with ts.store.lock:
        ts.store.items[item_id].resource.update({"name": "Renamed pump"}, None, ts.store.now_ms())
    report = _sync(client, ts, warehouse, since)
    assert report.rows["items"] == 1 and report.unchanged["items"] == len(ts.store.items) - 1
    assert query(warehouse, "select name from items where id = %s", item_id) == [("Renamed pump",)]
    assert query(warehouse, "select count(*) from items") == [(len(ts.store.items),)]
    assert warehouse_points(warehouse) == points  # data points keep their item


def test_deleted_items_and_signals_leave_the_warehouse(
    own: tuple[TimeseriesState, RpcClient], warehouse: WarehouseOptions
) -> None:
    ts, client = own
    since = ts.store.now_us() - DAY_US
    _sync(client, ts, warehouse, since)
    item_id, kept = sorted(ts.store.items)[2], sorted(ts.store.items)[5]
    signal_id = next(s.resource.id for s in ts.store.signals.values() if s.item_id == item_id)
    assert query(warehouse, "select count(*) from items__labels where item_id = %s", item_id)[0][0] > 0
    ts.store.delete_item(item_id)
    ts.store.delete_signal(signal_id)  # type: ignore[arg-type]
    # a filtered run lists only some items: the others are not taken for deleted
    report = _sync(client, ts, warehouse, since, item_filter={"id": {"$in": [kept]}})
    assert report.deleted == {"items": [item_id], "signals": [signal_id]}
    assert item_id not in {r[0] for r in query(warehouse, "select id from items")}
    assert signal_id not in {r[0] for r in query(warehouse, "select id from signals")}
    assert query(warehouse, "select count(*) from items__labels where item_id = %s", item_id) == [(0,)]
    assert query(warehouse, "select count(*) from signals__labels where signal_id = %s", signal_id) == [(0,)]
    assert query(warehouse, "select count(*) from items") == [(len(ts.store.items),)]
    assert query(warehouse, "select count(*) from items where _deleted is not null") == [(0,)]
    assert warehouse_points(warehouse) == expected_points(ts, since)  # its data points are gone too
    report = _sync(client, ts, warehouse, since)
    assert report.deleted == {"items": [], "signals": []}


def test_item_filter_and_rollups(client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions) -> None:
    since = ts.store.now_us() - 3 * DAY_US
    flt = {"labels.site": "oslo"}
    oslo = [i for i, it in ts.store.items.items() if "oslo" in it.resource.attributes["labels"].get("site", [])]
    _sync(client, ts, duckdb_warehouse, since, rollup="P1D", item_filter=flt, with_signals=False)
    rows = query(duckdb_warehouse, "select item_id, sum(count), min(min), max(max) from data_rollups group by 1")
    expected = expected_points(ts, since - since % DAY_US, oslo)
    assert {r[0] for r in rows} == set(oslo)
    for item_id, count, low, high in rows:
        values = [v for (i, _), v in expected.items() if i == item_id]
        assert (count, low, high) == (len(values), min(values), max(values))


def test_full_refresh_reloads_from_scratch(
    client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions
) -> None:
    since = ts.store.now_us() - DAY_US
    _sync(client, ts, duckdb_warehouse, since, with_signals=False)
    query(duckdb_warehouse, "delete from data_points where item_id = %s", demo_item_ids(ts, "PT5M")[0])
    assert warehouse_points(duckdb_warehouse) != expected_points(ts, since)  # damage a plain sync cannot see
    report = _sync(client, ts, duckdb_warehouse, since, with_signals=False, full_refresh=True)
    assert report.unchanged == {} and report.rows["items"] == len(ts.store.items)  # hashes and cursors forgotten
    assert warehouse_points(duckdb_warehouse) == expected_points(ts, since)


def test_an_item_without_samples_is_read_from_the_start_until_it_has_data(
    own: tuple[TimeseriesState, RpcClient], duckdb_warehouse: WarehouseOptions
) -> None:
    ts, client = own
    empty = ts.store.create_item("Late starter")
    since = ts.store.now_us() - 5 * DAY_US
    _sync(client, ts, duckdb_warehouse, since, with_signals=False)
    ts.clock.advance(3600)
    ts.calls.clear()
    _sync(client, ts, duckdb_warehouse, since, with_signals=False)

    def starts() -> dict[str, int]:
        frames = [c["params"] for c in ts.methods_called("clarify.dataFrame")]
        return {
            i: parse_us(p["data"]["filter"]["times"]["$gte"]) for p in frames for i in p["query"]["filter"]["id"]["$in"]
        }

    # the empty item from `since` again; the others near where the last run ended (the slowest samples daily)
    assert starts()[empty] == since
    assert min(t for i, t in starts().items() if i != empty) >= ts.store.now_us() - 2 * DAY_US
    first = since + DAY_US + 1  # its first samples arrive four days after their time
    ts.store.add_samples_us(empty, {first: 1.5})
    _sync(client, ts, duckdb_warehouse, since, with_signals=False)
    assert warehouse_points(duckdb_warehouse) == expected_points(ts, since)
    ts.calls.clear()  # from now on it has a cursor like any other item
    _sync(client, ts, duckdb_warehouse, since, with_signals=False)
    assert starts()[empty] == first - HOUR_US


def test_a_sync_loads_in_parts_of_a_few_calls(
    client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions
) -> None:
    since = ts.store.now_us() - 50 * DAY_US  # two windows of 40 days x two chunks of items: four calls
    # the demo items only: an item without samples (other tests publish some) is read from `since` every run
    demo = {"id": {"$in": demo_item_ids(ts)}}
    report = _sync(client, ts, warehouse, since, frames_per_load=1, item_filter=demo)
    assert report.loads == 4 and not report.more_data
    assert report.unchanged == {} and report.rows["items"] == len(demo_item_ids(ts))
    assert warehouse_points(warehouse) == expected_points(ts, since, demo_item_ids(ts))
    report = _sync(client, ts, warehouse, since, frames_per_load=1, item_filter=demo)  # one part per chunk
    assert report.loads == 2 and report.unchanged["items"] == len(demo_item_ids(ts))
    assert warehouse_points(warehouse) == expected_points(ts, since, demo_item_ids(ts))
