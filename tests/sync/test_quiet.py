"""A user with two warehouses sees no dlt warnings: each warehouse keeps its own local pipeline state."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.sync import run_sync
from tests.sync.conftest import PG_OK, assert_synced, connection_for


@pytest.mark.skipif(not PG_OK, reason="no Postgres")
def test_duckdb_after_postgres_prints_no_dlt_warning(
    make_emu: Any, make_warehouse: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")  # the level a user runs at
    emu = make_emu(records=100)
    conn = connection_for(emu)
    postgres, duckdb = make_warehouse("postgres"), make_warehouse("duckdb")
    for warehouse in (postgres, duckdb, postgres, duckdb):
        run_sync(conn, warehouse)
    assert_synced(emu, duckdb)
    assert_synced(emu, postgres)
    assert capfd.readouterr().err == ""  # dlt logs to stderr through its own handler
