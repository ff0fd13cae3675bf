"""The reconcile pass of `timeseries sync`: what arrives later than the lag window is found by counting each
item's samples per UTC day, and only the windows that differ are read again. DuckDB and Postgres.

Each test has an emulator of its own (a few items, ten days of history); windows come from its clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from core.errors import ConfigError
from core.timefmt import iso_us as iso
from core.timefmt import parse_us
from core.warehouse.options import WarehouseOptions
from emulator.timeseries import TimeseriesConfig, TimeseriesState
from pipelines.cli.timeseries import timeseries_app
from pipelines.timeseries_reconcile import reconcile_interval
from pipelines.timeseries_sync import run_timeseries_sync
from sources.clarify_timeseries.reconcile import api_days
from sources.clarify_timeseries.report import TimeseriesReport
from sources.clarify_timeseries.rpc import RpcClient
from tests.timeseries.conftest import Server, demo_item_ids, own_emulator
from tests.timeseries.helpers import DAY_US, HOUR_US, expected_points, query, warehouse_points

MINUTE_US = 60_000_000


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> WarehouseOptions:
    return request.getfixturevalue(f"{request.param}_warehouse")


@pytest.fixture
def own(ts_now: str, tmp_path: Path) -> Iterator[tuple[TimeseriesState, RpcClient, Path]]:
    with own_emulator(tmp_path, TimeseriesConfig(seed=13, items=8, history_days=10, now=ts_now)) as emulator:
        yield emulator


def _sync(client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions, since: int, **kwargs: Any) -> Any:
    return run_timeseries_sync(
        client, warehouse, since=iso(since), until_us=ts.store.now_us() + 1, with_signals=False, **kwargs
    )


def _rereads(ts: TimeseriesState) -> list[tuple[list[str], int, int]]:
    """The raw dataFrame calls made after the reconcile's day rollups: (items, $gte, $lt)."""
    frames = [c["params"] for c in ts.methods_called("clarify.dataFrame")]
    last_rollup = max((n for n, p in enumerate(frames) if p["data"].get("rollup")), default=None)
    assert last_rollup is not None, "no reconcile pass ran"
    return [
        (
            p["query"]["filter"]["id"]["$in"],
            parse_us(p["data"]["filter"]["times"]["$gte"]),
            parse_us(p["data"]["filter"]["times"]["$lt"]),
        )
        for p in frames[last_rollup + 1 :]
    ]


def _day(us: int) -> int:
    return us - us % DAY_US


def test_a_backfill_is_missed_by_the_lag_window_and_loaded_by_reconcile(
    own: tuple[TimeseriesState, RpcClient, Path],
    warehouse: WarehouseOptions,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ts, client, creds = own
    since = ts.store.now_us() - 8 * DAY_US
    _sync(client, ts, warehouse, since)
    ts.clock.advance(3600)
    items = demo_item_ids(ts)[:2]
    lo = _day(ts.store.now_us()) - 6 * DAY_US  # three days of history, inserted a week late
    written = ts.store.backfill(items, lo, lo + 3 * DAY_US, 20 * MINUTE_US)
    assert written == 2 * 3 * 72

    report = _sync(client, ts, warehouse, since, reconcile=False)
    assert report.reconcile is None
    missing = expected_points(ts, since).keys() - warehouse_points(warehouse).keys()
    assert len(missing) == written and {i for i, _ in missing} == set(items)  # the lag window cannot see them

    # `clarify-sync timeseries sync --reconcile`, on the same warehouse and dlt state
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path))
    ts.calls.clear()
    result = CliRunner().invoke(timeseries_app, ["sync", *_cli_args(warehouse, creds, ts, since), "--reconcile"])
    assert result.exit_code == 0, result.output
    assert warehouse_points(warehouse) == expected_points(ts, since)
    reread = sum(len(ts.store.samples_us(i, lo, lo + 3 * DAY_US)) for i in items)  # those days, backfill and all
    summary = f"2 (item, window) pairs differed, {reread} samples read again (2 windows replaced)"
    assert summary in " ".join(result.output.split())
    assert _rereads(ts) == [(sorted(items), lo, lo + 3 * DAY_US)]  # those days only, both items in one call
    runs = query(
        warehouse, "select records from _clarify_sync_runs where command = 'timeseries sync' order by finished_at"
    )
    assert runs[-1][0] >= written  # the re-read rows count in the run's row like the sync's own

    ts.calls.clear()  # nothing changed since: one rollup call for the eight items, no re-read
    report = _sync(client, ts, warehouse, since, reconcile=True)
    assert (report.reconcile.items, report.reconcile.calls, report.reconcile.windows) == (8, 1, 0)
    assert _rereads(ts) == []
    assert warehouse_points(warehouse) == expected_points(ts, since)


def _cli_args(warehouse: WarehouseOptions, creds: Path, ts: TimeseriesState, since: int) -> list[str]:
    where = ["--duckdb-path", warehouse.duckdb_path] if warehouse.destination == "duckdb" else []
    if warehouse.destination == "postgres":
        where = [
            "--destination",
            "postgres",
            "--postgres-dsn",
            str(warehouse.postgres_dsn),
            "--dataset",
            warehouse.dataset,
        ]
    window = ["--since", iso(since), "--until", iso(ts.store.now_us() + 1), "--no-signals"]
    return ["--credentials", str(creds), *where, *window]


def test_an_empty_items_first_samples_arriving_3_hours_late_are_loaded(
    own: tuple[TimeseriesState, RpcClient, Path], warehouse: WarehouseOptions
) -> None:
    ts, client, _ = own
    late = ts.store.create_item("Late starter")
    since = ts.store.now_us() - 3 * DAY_US
    _sync(client, ts, warehouse, since)  # the item is empty at this sync
    end = ts.store.now_us()
    ts.clock.advance(3600)
    first = {end - 2 * HOUR_US + k * 10 * MINUTE_US: float(k) for k in range(6)}  # times 3 h before they arrive
    ts.store.add_samples_us(late, first)
    report = _sync(client, ts, warehouse, since, reconcile=True)
    got = warehouse_points(warehouse)
    assert {t: v for (i, t), v in got.items() if i == late} == first
    assert got == expected_points(ts, since)
    assert report.reconcile.windows == 0  # the sync's own read found them: an empty item is read from `since`


def test_reconcile_replaces_changed_and_deleted_samples(
    own: tuple[TimeseriesState, RpcClient, Path], warehouse: WarehouseOptions
) -> None:
    ts, client, _ = own
    since = ts.store.now_us() - 5 * DAY_US
    _sync(client, ts, warehouse, since)
    changed, deleted = demo_item_ids(ts, "PT15M")[:1] + demo_item_ids(ts, "PT1H")[:1]
    old = _day(ts.store.now_us()) - 3 * DAY_US
    t_changed = min(ts.store.samples_us(changed, old, old + DAY_US))
    t_deleted = min(ts.store.samples_us(deleted, old + DAY_US, old + 2 * DAY_US))
    ts.store.add_samples_us(changed, {t_changed: 12345.678})  # same count, another sum
    ts.store.add_samples_us(deleted, {t_deleted: None})  # one sample fewer
    report = _sync(client, ts, warehouse, since, reconcile=True)
    assert (report.reconcile.windows, report.reconcile.replaced) == (2, 2)
    got = warehouse_points(warehouse)
    assert got[(changed, t_changed)] == 12345.678 and (deleted, t_deleted) not in got
    assert got == expected_points(ts, since)


def test_reconcile_runs_when_due(
    own: tuple[TimeseriesState, RpcClient, Path], duckdb_warehouse: WarehouseOptions
) -> None:
    ts, client, _ = own
    since = ts.store.now_us() - 2 * DAY_US
    day = 24 * 3600.0
    assert _sync(client, ts, duckdb_warehouse, since, reconcile_interval=day).reconcile is None  # a first sync
    ts.clock.advance(23 * 3600)
    assert _sync(client, ts, duckdb_warehouse, since, reconcile_interval=day).reconcile is None
    ts.clock.advance(3600)
    assert _sync(client, ts, duckdb_warehouse, since, reconcile=False, reconcile_interval=day).reconcile is None
    assert _sync(client, ts, duckdb_warehouse, since, reconcile_interval=day).reconcile is not None  # 24 h on
    ts.clock.advance(3600)
    assert _sync(client, ts, duckdb_warehouse, since, reconcile_interval=day).reconcile is None


def test_enum_items_rolled_up_as_state_histograms_are_counted_by_evaluate(
    own: tuple[TimeseriesState, RpcClient, Path], duckdb_warehouse: WarehouseOptions
) -> None:
    ts, client, _ = own
    ts.configure(enum_rollup="histogram")  # what Clarify documents for enum items: no `_count` series
    since = ts.store.now_us() - 3 * DAY_US
    _sync(client, ts, duckdb_warehouse, since)
    enum_item = next(i for i in demo_item_ids(ts) if ts.store.items[i].resource.attributes["valueType"] == "enum")
    old = _day(ts.store.now_us()) - 2 * DAY_US
    backfilled = {old + 7 * HOUR_US + k * MINUTE_US: 2.0 for k in range(3)}
    ts.store.add_samples_us(enum_item, backfilled)
    ts.calls.clear()
    report = _sync(client, ts, duckdb_warehouse, since, reconcile=True)
    evaluated = ts.methods_called("clarify.evaluate")
    assert len(evaluated) == 1 and [i["id"] for i in evaluated[0]["params"]["items"]] == [enum_item]
    assert report.reconcile.windows == 1 and report.reconcile.uncompared == []
    got = warehouse_points(duckdb_warehouse)
    assert all(got[(enum_item, t)] == 2.0 for t in backfilled)
    assert got == expected_points(ts, since)


def test_what_reconcile_cannot_do_is_refused_before_anything_is_read(
    client: RpcClient, duckdb_warehouse: WarehouseOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="without --rollup"):
        run_timeseries_sync(client, duckdb_warehouse, rollup="PT1H", reconcile=True)
    lake = WarehouseOptions(destination="filesystem", bucket_url=str(duckdb_warehouse.duckdb_path) + ".lake")
    with pytest.raises(ConfigError, match="not filesystem"):
        run_timeseries_sync(client, lake, reconcile=True)
    monkeypatch.setenv("SOURCES__CLARIFY_TIMESERIES__RECONCILE_EVERY_HOURS", "6")
    assert reconcile_interval() == 6 * 3600
    monkeypatch.setenv("SOURCES__CLARIFY_TIMESERIES__RECONCILE_EVERY_HOURS", "daily")
    with pytest.raises(ConfigError, match="reconcile_every_hours = 'daily' is not a number of hours"):
        run_timeseries_sync(client, duckdb_warehouse)


def test_the_emulator_backfills_and_creates_empty_items_over_http(ts_now: str) -> None:
    server = Server(TimeseriesState(TimeseriesConfig(seed=3, items=2, history_days=3, now=ts_now)))
    url = server.start()
    store = server.state.store
    try:
        with httpx.Client(base_url=url) as http:
            created = http.post("/_emulator/timeseries/items", json={"name": "Pump 9"})
            late = created.json()["id"]
            assert store.items[late].resource.attributes["name"] == "Pump 9"
            assert store.samples_us(late, 0, store.now_us() + 1) == {}
            lo = _day(store.now_us()) - 2 * DAY_US
            body = {"items": [late, demo_item_ids(server.state)[0]], "from": iso(lo), "to": iso(lo + DAY_US)}
            assert http.post("/_emulator/timeseries/backfill", json={**body, "every": "PT6H"}).json() == {"samples": 8}
            assert sorted(store.samples_us(late, 0, store.now_us() + 1)) == [
                lo + 500_000 + k * 6 * HOUR_US for k in range(4)
            ]
            refused = http.post("/_emulator/timeseries/backfill", json={**body, "every": "often"})
            assert refused.status_code == 400 and "every" in refused.json()["error"]
            assert (
                http.patch("/_emulator/timeseries/config", json={"enum_rollup": "histogram"}).json()["enum_rollup"]
                == "histogram"
            )
            assert http.patch("/_emulator/timeseries/config", json={"enum_rollup": "pie"}).status_code == 400
    finally:
        server.stop()


def test_day_rollups_that_fail_or_cannot_be_read_leave_out_only_their_items(
    own: tuple[TimeseriesState, RpcClient, Path],
) -> None:
    ts, client, _ = own
    ids = demo_item_ids(ts)
    hi = ts.store.now_us()
    ts.faults.add(-32021, method="clarify.dataFrame", ids=[ids[0]])
    report = TimeseriesReport()
    days = api_days(client, report, ids, hi - 3 * DAY_US, hi)
    assert set(days) == set(ids[1:]) and report.failures[0].startswith(f"{ids[0]} [")
    assert len(report.failures) == 1 and report.reconcile.calls == 1

    class OddBuckets:  # a stand-in client: the emulator always answers buckets at UTC midnights
        def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
            times = ["2025-05-30T00:00:00Z", "2025-05-31T02:00:00Z"]
            return {"data": {"times": times, "series": {f"{i}_count": [1, 2] for i in ids}}}

    report = TimeseriesReport()
    assert api_days(OddBuckets(), report, ids, hi - 3 * DAY_US, hi) == {}  # type: ignore[arg-type]
    assert (
        len(report.failures) == len(ids)
        and "bucket 2025-05-31T02:00:00.000000Z does not start at a UTC midnight" in report.failures[0]
    )
