"""Each JSON-RPC error code, and each bad input, gives the documented behaviour."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

import sources.clarify_timeseries.settings as s
from core.auth import REFRESH_MARGIN
from core.errors import ApiError, ConfigError
from core.http import RetryPolicy
from core.timefmt import iso_us as iso
from core.timefmt import parse_us
from core.warehouse.options import WarehouseOptions
from emulator.timeseries import TimeseriesState
from pipelines.cli.timeseries import timeseries_app
from pipelines.timeseries_sync import run_timeseries_sync
from sources.clarify_timeseries.credentials import parse_credentials_file
from sources.clarify_timeseries.rpc import (
    ForbiddenError,
    InvalidParamsError,
    MethodNotFoundError,
    RpcClient,
    RpcError,
)
from tests.timeseries.conftest import DEFAULT_TS_NOW, FAST_RETRY, demo_item_ids
from tests.timeseries.helpers import DAY_US, cause, expected_points, warehouse_points


@pytest.mark.parametrize("code", [-32015, -32603, -32000, -32009])
def test_transient_codes_are_retried(client: RpcClient, ts: TimeseriesState, code: int) -> None:
    ts.faults.add(code, method="clarify.selectItems", times=2)
    before = client.http.stats.retries
    assert client.call("clarify.selectItems", {"query": {"limit": 1}})["data"]
    assert client.http.stats.retries - before == 2


def test_retries_run_out_with_the_trace(client: RpcClient, ts: TimeseriesState) -> None:
    ts.faults.add(-32603, method="clarify.selectItems", times=None)
    with pytest.raises(RpcError) as info:
        client.call("clarify.selectItems", {})
    assert info.value.code == -32603 and info.value.trace and info.value.trace in str(info.value)
    assert "\n" not in str(info.value)


def test_too_many_requests_slows_down(creds_path: Path, ts: TimeseriesState) -> None:
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.002, retry_after_max=60.0)
    with RpcClient(parse_credentials_file(creds_path), retry=policy, sleep=slept.append) as rpc:
        ts.faults.add(-32011, method="clarify.selectItems", times=1)
        rpc.call("clarify.selectItems", {"query": {"limit": 1}})
    assert slept and max(slept) >= s.SLOW_DOWN_SECONDS


def test_invalid_params_show_the_params(client: RpcClient, ts: TimeseriesState) -> None:
    with pytest.raises(InvalidParamsError) as info:
        client.call("clarify.selectItems", {"query": {"limit": 5000}})
    assert "query.limit" in str(info.value) and info.value.trace in str(info.value)


def test_unknown_method_is_named(client: RpcClient) -> None:
    with pytest.raises(MethodNotFoundError) as info:
        client.call("clarify.nothingHere")
    assert "clarify.nothingHere" in str(info.value) and info.value.trace in str(info.value)


def test_forbidden_gives_an_access_hint(
    client: RpcClient, ts: TimeseriesState, duckdb_warehouse: WarehouseOptions
) -> None:
    ts.configure(forbidden_methods=frozenset({"admin.selectSignals"}))
    with pytest.raises(Exception) as info:
        run_timeseries_sync(
            client, duckdb_warehouse, since=iso(ts.store.now_us() - DAY_US), until_us=ts.store.now_us() + 1
        )
    err = cause(info.value)
    assert isinstance(err, ForbiddenError) and "access" in str(err) and err.trace in str(err)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> WarehouseOptions:
    return request.getfixturevalue(f"{request.param}_warehouse")


def test_partial_failure_keeps_what_succeeded(
    client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions
) -> None:
    since = ts.store.now_us() - 2 * DAY_US
    bad = demo_item_ids(ts)[7]
    ts.faults.add(-32021, method="clarify.dataFrame", times=None, ids=[bad])
    before = len(ts.methods_called("clarify.dataFrame"))
    report = run_timeseries_sync(
        client,
        warehouse,
        since=iso(since),
        until_us=ts.store.now_us() + 1,
        with_signals=False,
        raise_on_failures=False,
    )
    assert report.failures and all(f.startswith(bad) for f in report.failures) and "trace" in report.failures[0]
    # the partial result is kept: one call per chunk of 50 items, none to re-read the others one by one
    assert len(ts.methods_called("clarify.dataFrame")) - before == -(-len(ts.store.items) // 50)
    expected = expected_points(ts, since)
    got = warehouse_points(warehouse)
    assert got == {k: v for k, v in expected.items() if k[0] != bad}
    ts.faults.clear()
    run_timeseries_sync(client, warehouse, since=iso(since), until_us=ts.store.now_us() + 1, with_signals=False)
    assert warehouse_points(warehouse) == expected


def test_sync_through_retried_faults_and_an_expired_token_is_exact(
    client: RpcClient, ts: TimeseriesState, warehouse: WarehouseOptions
) -> None:
    since = ts.store.now_us() - 3 * DAY_US
    ts.faults.add(-32015, method="clarify.dataFrame", times=2)
    ts.faults.add(-32011, method="clarify.selectItems", times=1)
    ts.faults.add(-32011, method="clarify.dataFrame", times=1)
    report = run_timeseries_sync(client, warehouse, since=iso(since), until_us=ts.store.now_us() + 1)
    assert report.failures == [] and ts.faults.pending() == []
    assert warehouse_points(warehouse) == expected_points(ts, since)
    ts.expire_tokens()  # the next run starts with a token the server no longer knows
    ts.clock.advance(3600)
    try:
        fetched = client.auth.fetched
        run_timeseries_sync(client, warehouse, since=iso(since), until_us=ts.store.now_us() + 1)
        assert client.auth.fetched == fetched + 1
        assert warehouse_points(warehouse) == expected_points(ts, since)
    finally:
        ts.clock.advance(-3600)


def test_token_is_refreshed_before_expiry(client: RpcClient, ts: TimeseriesState) -> None:
    now = [1000.0]
    client.auth._clock = lambda: now[0]
    client.call("clarify.selectItems", {"query": {"limit": 1}})
    fetched = client.auth.fetched
    now[0] += ts.config.token_ttl - REFRESH_MARGIN + 1
    client.call("clarify.selectItems", {"query": {"limit": 1}})
    assert client.auth.fetched == fetched + 1


def test_revoked_token_is_replaced_once(client: RpcClient, ts: TimeseriesState) -> None:
    client.call("clarify.selectItems", {"query": {"limit": 1}})
    ts.expire_tokens()
    assert client.call("clarify.selectItems", {"query": {"limit": 1}})["data"]


def test_secrets_stay_out_of_reprs(creds_path: Path, ts: TimeseriesState) -> None:
    creds = parse_credentials_file(creds_path)
    with RpcClient(creds, retry=FAST_RETRY) as rpc:
        assert ts.config.client_secret not in repr(creds) + repr(rpc.auth)


@pytest.fixture(autouse=True)
def _dlt_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))


# -- bad input through the CLI: one line, non-zero exit, nothing written --------------------------------------


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(timeseries_app, args)  # DLT_DATA_DIR is a tmp dir (autouse fixture)
    return result.exit_code, result.output


def _sync_args(creds: Path, tmp_path: Path, until: int = parse_us(DEFAULT_TS_NOW)) -> list[str]:
    """A day up to the emulator's now (its clock, not the wall clock's)."""
    window = ["--since", iso(until - DAY_US), "--until", iso(until + 1)]
    return ["sync", "--credentials", str(creds), "--duckdb-path", str(tmp_path / "cli.duckdb"), *window]


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_bad_credentials(tmp_path: Path, creds_path: Path) -> None:
    doc = orjson.loads(creds_path.read_bytes())
    doc["credentials"]["clientSecret"] = "wrong"
    creds_path.write_bytes(orjson.dumps(doc))
    code, output = _run(_sync_args(creds_path, tmp_path))
    assert code != 0 and "credentials" in _one_error_line(output) and "wrong" not in output
    assert not (tmp_path / "cli.duckdb").exists()


def test_wrong_api_version(tmp_path: Path, creds_path: Path, ts: TimeseriesState) -> None:
    ts.configure(api_versions=frozenset({"2.0"}))
    code, output = _run(_sync_args(creds_path, tmp_path))
    assert code != 0 and "X-API-Version" in _one_error_line(output)
    assert not (tmp_path / "cli.duckdb").exists()


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"apiUrl": "x", "integration": "i"}',
        b'{"apiUrl": "ftp://h/", "integration": "i", "credentials": {"clientId": "a", "clientSecret": "b"}}',
    ],
)
def test_malformed_credentials_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError):
        parse_credentials_file(path)
    code, output = _run(_sync_args(path, tmp_path))
    line = _one_error_line(output)
    assert code == ConfigError.exit_code and ("credentials file" in line or "apiUrl" in line)
    assert not (tmp_path / "cli.duckdb").exists()


def test_cli_sync_and_status(tmp_path: Path, creds_path: Path, ts: TimeseriesState) -> None:
    code, output = _run(_sync_args(creds_path, tmp_path, ts.store.now_us()) + ["--no-signals"])
    assert code == 0, output
    code, output = _run(["status", "--duckdb-path", str(tmp_path / "cli.duckdb")])
    assert code == 0 and "data_points" in output, output


def test_transport_401_maps_to_api_error(client: RpcClient, ts: TimeseriesState) -> None:
    ts.configure(client_secret="rotated")
    ts.expire_tokens()
    with pytest.raises(ApiError) as info:
        client.call("clarify.selectItems", {})
    assert "credentials" in str(info.value)
