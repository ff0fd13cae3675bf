"""`_clarify_sync_runs`: sync, push and time-series runs against the emulator, into DuckDB and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.errors import ApiError, ClarifySyncError
from core.http import RetryPolicy
from pipelines.push import run_push
from pipelines.sync import run_sync
from pipelines.timeseries_sync import run_timeseries_sync
from sources.clarify.connection import ClarifyConnection
from sources.clarify_timeseries.rpc import RpcClient
from tests.sync.conftest import WAREHOUSES, connection_for, query

FAST_RETRY = RetryPolicy(backoff_base=0.001, backoff_max=0.01, retry_after_max=0.01, max_attempts=12)
RUNS = "SELECT * FROM {ds}._clarify_sync_runs"


def runs(wh: Any, where: str = "true") -> list[dict[str, Any]]:
    return query(wh, f"{RUNS} WHERE {where} ORDER BY finished_at, object")


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_each_sync_records_one_row_per_object(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    emu.faults.set(burst_429=2, only_paths=["/objects/person/"])
    first = run_sync(connection_for(emu), wh, retry=FAST_RETRY)
    second = run_sync(connection_for(emu), wh, objects=["person"])

    rows = runs(wh)
    first_rows = len(first.objects) + 1  # and one for the lists step
    assert len(rows) == first_rows + 1
    assert {r["status"] for r in rows} == {"succeeded"} and len({r["run_id"] for r in rows}) == 2
    by_object = {r["object"]: r for r in rows[:first_rows]}
    assert set(by_object) == {*first.objects, "lists"} and first.lists is not None
    assert (by_object["lists"]["records"], by_object["lists"]["requests"]) == (
        first.lists.lists + first.lists.members,
        first.lists.requests,
    )
    for obj, o in first.objects.items():
        row = by_object[obj]
        assert (row["records"], row["pages"], row["deleted"]) == (o.records, o.pages, o.deleted)
        assert row["requests"] == o.requests and row["cursor_before"] is None and row["cursor_after"] == o.cursor
        assert row["command"] == "sync" and row["finished_at"] >= row["started_at"] and row["error"] is None
    assert by_object["person"]["rate_limited"] == 2 and by_object["person"]["retries"] == 2
    assert by_object["company"]["rate_limited"] == 0
    last = rows[-1]
    assert last["object"] == "person" and last["records"] == second.objects["person"].records == 0
    assert last["cursor_before"] == last["cursor_after"] == first.objects["person"].cursor

    # The README's question: when was person last loaded, and how long did it take.
    answer = query(
        wh,
        "SELECT finished_at, seconds, records FROM {ds}._clarify_sync_runs WHERE object = 'person' "
        "AND command = 'sync' AND status = 'succeeded' AND records > 0 ORDER BY finished_at DESC LIMIT 1",
    )
    assert answer == [
        {
            "finished_at": by_object["person"]["finished_at"],
            "seconds": by_object["person"]["seconds"],
            "records": first.objects["person"].records,
        }
    ]


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_a_failed_sync_records_its_error_line(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    run_sync(connection_for(emu), wh, objects=["person", "deal"])
    wrong_key = ClarifyConnection(emu.base_url, emu.workspace, "not-the-key")
    with pytest.raises(ApiError) as failure:
        run_sync(wrong_key, wh)

    failed = runs(wh, "status = 'failed'")
    assert [r["object"] for r in failed] == ["deal", "person"]  # what this warehouse syncs, known from before
    assert {r["error"] for r in failed} == {str(failure.value)} and failure.value.status == 401
    assert all(r["cursor_before"] is not None and r["cursor_after"] is None for r in failed)
    # The next run starts from the cursor the last successful run reached, and says so.
    run_sync(connection_for(emu), wh, objects=["person"])
    ok = runs(wh, "status = 'succeeded' AND object = 'person'")
    assert ok[-1]["cursor_before"] == ok[0]["cursor_after"]


def test_a_failed_first_sync_creates_no_warehouse(make_emu: Any, make_warehouse: Any) -> None:
    emu = make_emu()
    wh = make_warehouse("duckdb")
    with pytest.raises(ApiError):
        run_sync(ClarifyConnection(emu.base_url, emu.workspace, "not-the-key"), wh)
    assert not Path(wh.duckdb_path).exists()


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_push_records_sent_and_rejected(make_emu: Any, make_warehouse: Any, kind: str) -> None:
    emu = make_emu()
    wh = make_warehouse(kind)
    run_sync(connection_for(emu), wh, objects=["company"])
    sql = (
        "SELECT 'Runco' AS name, 'runco.example' AS domains, 'Software' AS industry "
        "UNION ALL SELECT 'Badco', 'badco.example', 'Mining'"  # not one of the select's values: rejected
    )
    run_push(connection_for(emu), wh, object="company", sql=sql, dry_run=True)
    assert runs(wh, "command = 'push'") == []  # a dry run writes nothing anywhere
    report = run_push(connection_for(emu), wh, object="company", sql=sql)

    [row] = runs(wh, "command = 'push'")
    assert (row["object"], row["status"], row["records"], row["rejected"]) == ("company", "succeeded", 1, 1)
    assert row["requests"] == report.requests - 1 == 1  # the bulk create; GET /schemas belongs to no object

    with pytest.raises(ClarifySyncError) as failure:
        run_push(connection_for(emu), wh, object="company", sql="SELECT name FROM no_such_table")
    failed = runs(wh, "command = 'push' AND status = 'failed'")
    assert [(r["object"], r["error"]) for r in failed] == [("company", str(failure.value))]


@pytest.mark.parametrize("kind", WAREHOUSES)
def test_timeseries_sync_records_a_row(client: RpcClient, ts: Any, make_warehouse: Any, kind: str) -> None:
    wh = make_warehouse(kind)
    now_us = ts.store.now_us()
    since = datetime.fromtimestamp(now_us / 1e6 - 6 * 3600, UTC).isoformat()  # the emulator's last hours
    report = run_timeseries_sync(client, wh, since=since, until_us=now_us + 1)
    [row] = runs(wh, "command = 'timeseries sync'")
    assert (row["object"], row["status"], row["records"]) == ("timeseries", "succeeded", sum(report.rows.values()))
    assert row["records"] > 0 and row["requests"] == client.http.stats.requests
