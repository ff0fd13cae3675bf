"""The CRM sync fixtures (emulators, DuckDB and Postgres warehouses, an isolated dlt home) for these tests."""

from tests.sync.conftest import _isolated_dlt, emulator_cache, make_emu, make_warehouse  # noqa: F401
