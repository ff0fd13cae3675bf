"""Our client sends what the official SDKs send (pyclarify 0.7.0, clarify-go), seen from the emulator's call log.

The emulator refuses the old shapes (a JSON token body, a token URL outside `apiUrl`, `inputs` without a
format), so each sync or push below that succeeds has already used the SDKs' protocol; the log shows the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

import sources.clarify_timeseries.settings as s
from core.timefmt import iso_us as iso
from core.warehouse.options import WarehouseOptions
from emulator.timeseries import TimeseriesState, credentials_file
from pipelines.timeseries_sync import make_pipeline, run_timeseries_push, run_timeseries_sync
from sources.clarify_timeseries.auth import IntegrationBasicAuth
from sources.clarify_timeseries.credentials import parse_credentials_file
from sources.clarify_timeseries.rpc import RpcClient
from tests.timeseries.conftest import FAST_RETRY
from tests.timeseries.helpers import DAY_US, expected_points, warehouse_points


def _since_until(ts: TimeseriesState) -> tuple[str, int]:
    return iso(ts.store.now_us() - DAY_US), ts.store.now_us() + 1


def test_selections_and_frames_carry_the_sdk_format(
    client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions
) -> None:
    ts.calls.clear()
    since, until = _since_until(ts)
    run_timeseries_sync(client, duckdb_warehouse, since=since, until_us=until)
    for method, fmt in (
        ("clarify.selectItems", s.SELECTION_FORMAT),
        ("admin.selectSignals", s.SELECTION_FORMAT),
        ("clarify.dataFrame", s.FRAME_FORMAT),
    ):
        calls = ts.methods_called(method)
        assert calls and all(call["params"]["format"] == fmt for call in calls), method
    # window bounds go with all six fraction digits
    times = ts.methods_called("clarify.dataFrame")[0]["params"]["data"]["filter"]["times"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", t) for t in times.values())


def test_save_signals_sends_signals_by_input(
    client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions
) -> None:
    with make_pipeline(duckdb_warehouse).sql_client() as sql:
        sql.create_dataset()
        q = sql.make_qualified_table_name("meta")
        sql.execute_sql(f"create table {q} (input_id varchar, name varchar)")
        sql.execute_sql(f"insert into {q} values ('proto_in', 'Protocol pump')")
    ts.calls.clear()
    report = run_timeseries_push(client, duckdb_warehouse, signals_from="meta")
    assert report.signals_saved == 1
    (call,) = ts.methods_called("integration.saveSignals")
    assert set(call["params"]) == {"integration", "signalsByInput"}
    assert call["params"]["signalsByInput"] == {"proto_in": {"name": "Protocol pump"}}


def test_token_comes_from_the_api_url_and_expires_on_the_server(client: RpcClient, ts: TimeseriesState) -> None:
    issued = ts.tokens_issued
    client.call("clarify.selectItems", {"query": {"limit": 1}})
    assert client.auth.fetched == 1 and ts.tokens_issued == issued + 1
    ts.clock.advance(ts.config.token_ttl + 1)  # the server's clock passes the token's end: it answers 401
    try:
        assert client.call("clarify.selectItems", {"query": {"limit": 1}})["data"]
    finally:
        ts.clock.advance(-(ts.config.token_ttl + 1))
    assert client.auth.fetched == 2 and ts.tokens_issued == issued + 2


@pytest.mark.parametrize("api_url_tail", ["/v1/", "/v1"])
def test_basic_auth_credentials_sync_without_a_token(
    tmp_path: Path, ts: TimeseriesState, base_url: str, duckdb_warehouse: WarehouseOptions, api_url_tail: str
) -> None:
    doc = credentials_file(ts, base_url, kind="basic-auth")
    doc["apiUrl"] = base_url + api_url_tail  # clarify-go adds the missing trailing slash; so do we
    path = tmp_path / "basic.json"
    path.write_bytes(orjson.dumps(doc))
    issued = ts.tokens_issued
    since, until = _since_until(ts)
    with RpcClient(parse_credentials_file(path), retry=FAST_RETRY, sleep=lambda _s: None) as rpc:
        assert isinstance(rpc.auth, IntegrationBasicAuth) and ts.config.password not in repr(rpc.auth)
        run_timeseries_sync(rpc, duckdb_warehouse, since=since, until_us=until, with_signals=False)
    assert ts.tokens_issued == issued
    assert warehouse_points(duckdb_warehouse) == expected_points(ts, until - 1 - DAY_US)


def test_wrong_basic_auth_password_is_one_line(tmp_path: Path, ts: TimeseriesState, base_url: str) -> None:
    doc = credentials_file(ts, base_url, kind="basic-auth")
    doc["credentials"]["clientSecret"] = "not-it"
    path = tmp_path / "basic.json"
    path.write_bytes(orjson.dumps(doc))
    with RpcClient(parse_credentials_file(path), retry=FAST_RETRY, sleep=lambda _s: None) as rpc:
        with pytest.raises(Exception) as info:
            rpc.call("clarify.selectItems", {"query": {"limit": 1}})
    assert "credentials" in str(info.value) and "not-it" not in str(info.value) and "\n" not in str(info.value)
