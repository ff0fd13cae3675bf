"""The run-record suite reuses the sync suite's emulators and warehouses (DuckDB file, Postgres schema) and the
time-series suite's server (a fixed "now", 60 items)."""

from tests.sync.conftest import _isolated_dlt, emulator_cache, make_emu, make_warehouse
from tests.timeseries.conftest import base_url, client, creds_path, ts, ts_now, ts_server

__all__ = [
    "_isolated_dlt",
    "base_url",
    "client",
    "creds_path",
    "emulator_cache",
    "make_emu",
    "make_warehouse",
    "ts",
    "ts_now",
    "ts_server",
]
