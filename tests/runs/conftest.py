"""The run-record suite reuses the sync suite's emulators and warehouses (DuckDB file, Postgres schema)."""

from tests.sync.conftest import _isolated_dlt, emulator_cache, make_emu, make_warehouse

__all__ = ["_isolated_dlt", "emulator_cache", "make_emu", "make_warehouse"]
