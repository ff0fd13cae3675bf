"""Fixtures: the time-series emulator over real HTTP (uvicorn in a thread), credentials, warehouses.

The clock: the emulator's demo data ends at `ts_now` (the session fixture; `TimeseriesConfig.now`), never at
the wall clock, so every test gives the same answer at any hour. Tests derive their windows from
`ts.store.now_ms()` (or `ts_now`), never from `time.time()`. To check that nothing depends on the chosen
instant, run the module at another one:

    CLARIFY_TEST_TS_NOW=2031-02-28T23:59:59.999Z .venv/bin/pytest -q tests/timeseries
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import psycopg2
import pytest
import uvicorn
from starlette.applications import Starlette

from core.http import RetryPolicy
from core.warehouse.options import WarehouseOptions
from emulator.timeseries import TimeseriesConfig, TimeseriesState, credentials_file, routes
from sources.clarify_timeseries.credentials import parse_credentials_file
from sources.clarify_timeseries.rpc import RpcClient

DEFAULT_TS_NOW = "2025-06-01T12:00:00.000Z"
PG_DSN = os.environ.get("CLARIFY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.002, retry_after_max=0.002, timeout=10.0)


class Server:
    """One uvicorn server in a daemon thread; `started` is awaited on an Event, not by sleeping."""

    def __init__(self, state: TimeseriesState):
        self.state = state
        config = uvicorn.Config(
            Starlette(routes=routes(state)), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("emulator thread died")
            self.thread.join(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextmanager
def own_emulator(tmp_path: Path, config: TimeseriesConfig) -> Iterator[tuple[TimeseriesState, RpcClient, Path]]:
    """An emulator of a test's own (for tests that change the upstream data), a client and its credentials file."""
    server = Server(TimeseriesState(config))
    url = server.start()
    path = tmp_path / "own-credentials.json"
    path.write_bytes(orjson.dumps(credentials_file(server.state, url)))
    try:
        with RpcClient(parse_credentials_file(path), retry=FAST_RETRY, sleep=lambda _s: None) as rpc:
            yield server.state, rpc, path
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ts_now() -> str:
    """The emulator's "now" for this run: CLARIFY_TEST_TS_NOW, else a fixed instant (never the wall clock)."""
    return os.environ.get("CLARIFY_TEST_TS_NOW") or DEFAULT_TS_NOW


@pytest.fixture(scope="session")
def ts_server(ts_now: str) -> Iterator[Server]:
    state = TimeseriesState(TimeseriesConfig(seed=7, items=60, history_days=20, now=ts_now))
    server = Server(state)
    server.url = server.start()  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def ts(ts_server: Server) -> Iterator[TimeseriesState]:
    """The shared emulator's state, with faults and live settings reset after each test."""
    state = ts_server.state
    saved = state.config
    yield state
    state.faults.clear()
    state.config = saved


@pytest.fixture
def base_url(ts_server: Server) -> str:
    return ts_server.url  # type: ignore[attr-defined]


@pytest.fixture
def creds_path(tmp_path: Path, ts: TimeseriesState, base_url: str) -> Path:
    path = tmp_path / "clarify-credentials.json"
    path.write_bytes(orjson.dumps(credentials_file(ts, base_url)))
    return path


@pytest.fixture
def client(creds_path: Path) -> Iterator[RpcClient]:
    with RpcClient(parse_credentials_file(creds_path), retry=FAST_RETRY, sleep=lambda _s: None) as rpc:
        yield rpc


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> WarehouseOptions:
    return WarehouseOptions(
        destination="duckdb",
        duckdb_path=str(tmp_path / "ts.duckdb"),
        dataset="clarify",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


@pytest.fixture
def postgres_warehouse(tmp_path: Path) -> Iterator[WarehouseOptions]:
    schema = f"ts_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg2.connect(PG_DSN)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no Postgres at CLARIFY_TEST_POSTGRES_DSN: {exc}")
    conn.autocommit = True
    yield WarehouseOptions(
        destination="postgres", postgres_dsn=PG_DSN, dataset=schema, pipelines_dir=str(tmp_path / "pipelines")
    )
    with conn.cursor() as cur:
        for suffix in ("", "_staging"):
            cur.execute(f'drop schema if exists "{schema}{suffix}" cascade')
    conn.close()


def demo_item_ids(state: TimeseriesState, interval: str | None = None) -> list[str]:
    """Sorted ids of the generated demo items (optionally of one sample interval): items other tests
    publish on the shared server have no samples and must not shift which item a test picks."""
    return sorted(
        item_id
        for item_id, item in state.store.items.items()
        if item.generator is not None and interval in (None, item.resource.attributes["sampleInterval"])
    )
