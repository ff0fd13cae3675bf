"""Write-back: warehouse rows → integration.insert, watermarks, rejects, signal metadata, round trip."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.timefmt import iso_us as iso
from core.timefmt import to_us
from core.warehouse.options import WarehouseOptions
from emulator.timeseries import TimeseriesState
from pipelines.timeseries_sync import make_pipeline, run_timeseries_push, run_timeseries_sync
from sources.clarify_timeseries.rpc import RpcClient
from tests.timeseries.helpers import query, warehouse_points


@pytest.fixture
def t0(ts: TimeseriesState) -> datetime:
    """Three days before the emulator's now, on a whole minute: the pushed samples are in its past."""
    now = datetime.fromtimestamp(ts.store.now_ms() // 60_000 * 60, UTC)
    return now - timedelta(days=3)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> WarehouseOptions:
    return request.getfixturevalue(f"{request.param}_warehouse")


def _table(warehouse: WarehouseOptions, name: str, rows: list[tuple[datetime, str, float]]) -> None:
    with make_pipeline(warehouse).sql_client() as sql:
        if not sql.has_dataset():
            sql.create_dataset()
        q = sql.make_qualified_table_name(name)
        sql.execute_sql(f"create table if not exists {q} (time timestamptz, input_id varchar, value double precision)")
        for row in rows:
            sql.execute_sql(f"insert into {q} values (%s, %s, %s)", *row)


def _signal(ts: TimeseriesState, input_id: str):  # noqa: ANN202
    return ts.store.signal_for_input(ts.config.integration, input_id, create=False)[0]


def test_push_then_sync_round_trips(
    client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions, t0: datetime
) -> None:
    a, b = f"rt_{uuid.uuid4().hex[:8]}", f"rt_{uuid.uuid4().hex[:8]}"
    # samples come in pairs 1 µs apart (within one millisecond): both must survive, both ways
    times = [t0 + timedelta(minutes=10 * (k // 2), microseconds=123_456 + k % 2) for k in range(30)]
    rows = [(t, input_id, float(k) + (0.5 if input_id == b else 0)) for k, t in enumerate(times) for input_id in (a, b)]
    _table(warehouse, "outbound", rows)
    sql = "select time, input_id, value from outbound"
    report = run_timeseries_push(client, warehouse, query=sql, publish=True, chunk_size=7)
    assert (report.points_sent, report.points_rejected, report.published) == (60, 0, 2)
    assert report.calls == 5  # 30 times in chunks of 7, both inputs share each call
    for input_id in (a, b):
        assert sorted(_signal(ts, input_id).overlay.items()) == [(to_us(r[0]), r[2]) for r in rows if r[1] == input_id]
    # nothing new: nothing sent
    assert run_timeseries_push(client, warehouse, query=sql).points_sent == 0
    _table(warehouse, "outbound", [(t0 + timedelta(days=1), a, 99.0)])
    assert run_timeseries_push(client, warehouse, query=sql).points_sent == 1
    # and back: the published items sync into data_points with the pushed values, to the microsecond
    item_a = _signal(ts, a).item_id
    run_timeseries_sync(
        client,
        warehouse,
        since=iso(to_us(t0)),
        until_us=ts.store.now_us() + 1,
        item_filter={"id": {"$in": [item_a]}},
        with_signals=False,
    )
    got = {us: v for (item_id, us), v in warehouse_points(warehouse).items() if item_id == item_a}
    assert len(got) == 31
    assert got == {to_us(r[0]): r[2] for r in rows if r[1] == a} | {to_us(t0 + timedelta(days=1)): 99.0}


def test_rejected_rows_are_kept_and_retried(
    client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions, t0: datetime
) -> None:
    good, bad = f"ok_{uuid.uuid4().hex[:8]}", f"no_{uuid.uuid4().hex[:8]}"
    rows = [(t0 + timedelta(hours=k), input_id, float(k)) for k in range(3) for input_id in (good, bad)]
    _table(duckdb_warehouse, "outbound", rows)
    ts.faults.add(-32021, method="integration.insert", ids=[bad])
    sql = "select time, input_id, value from outbound"
    report = run_timeseries_push(client, duckdb_warehouse, query=sql)
    assert (report.points_sent, report.points_rejected) == (3, 3) and "trace" in report.errors[0]
    rejects = query(duckdb_warehouse, "select input_id, error, trace, attempts from _clarify_ts_push_rejects")
    assert {r[0] for r in rejects} == {bad} and all(r[2] and r[2] in r[1] and r[3] == 1 for r in rejects)
    assert _signal(ts, bad) is None and len(_signal(ts, good).overlay) == 3
    report = run_timeseries_push(client, duckdb_warehouse, query=sql)
    assert (report.retried_rejects, report.points_sent, report.points_rejected) == (3, 3, 0)
    assert query(duckdb_warehouse, "select count(*) from _clarify_ts_push_rejects") == [(0,)]
    assert len(_signal(ts, bad).overlay) == 3


def test_invalid_chunk_is_rejected_with_its_params(
    client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions, t0: datetime
) -> None:
    ts.faults.add(-32603, method="integration.insert", times=None)
    input_id = f"err_{uuid.uuid4().hex[:8]}"
    _table(duckdb_warehouse, "outbound", [(t0, input_id, 1.0)])
    report = run_timeseries_push(client, duckdb_warehouse, query="select time, input_id, value from outbound")
    assert report.points_rejected == 1 and "-32603" in report.errors[0]
    assert query(duckdb_warehouse, "select input_id from _clarify_ts_push_rejects") == [(input_id,)]


def test_signals_from_a_table(client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions) -> None:
    input_id = f"sig_{uuid.uuid4().hex[:8]}"
    with make_pipeline(warehouse).sql_client() as sql:
        if not sql.has_dataset():
            sql.create_dataset()
        q = sql.make_qualified_table_name("signal_meta")
        sql.execute_sql(f"create table {q} (input_id varchar, name varchar, eng_unit varchar, labels varchar)")
        sql.execute_sql(f"insert into {q} values (%s, %s, %s, %s)", input_id, "Pump 7", "bar", '{"site": ["oslo"]}')
    report = run_timeseries_push(client, warehouse, signals_from="signal_meta")
    assert report.signals_saved == 1
    attrs = _signal(ts, input_id).resource.attributes
    assert (attrs["name"], attrs["engUnit"], attrs["labels"]) == ("Pump 7", "bar", {"site": ["oslo"]})
    assert run_timeseries_push(client, warehouse, signals_from="signal_meta").signals_saved == 0  # unchanged
