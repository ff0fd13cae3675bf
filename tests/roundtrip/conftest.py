"""The round trip (sync → compute in SQL → push → sync) uses the sync's fixtures: isolated dlt, DuckDB and
Postgres warehouses (Postgres datasets are dropped afterwards)."""

from tests.sync.conftest import _isolated_dlt, make_warehouse  # noqa: F401 - fixtures, found by name
