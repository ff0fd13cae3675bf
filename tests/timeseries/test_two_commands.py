"""The README's time-series start: `clarify-sync emulator` prints CLARIFY_TS_CREDENTIALS, `timeseries sync` uses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest
from typer.testing import CliRunner

from bench.emulator_proc import EmulatorProcess
from pipelines.cli.timeseries import timeseries_app


def test_emulator_writes_the_credentials_file_and_a_sync_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARIFY_EMULATOR_CACHE", str(tmp_path))
    # `python -m emulator --port 0 --records 50 ...`, stopped with SIGTERM at the end of the block
    with EmulatorProcess(records=50, seed=0, log_dir=tmp_path / "logs") as emu:
        settings = emu.settings
        path = Path(settings["CLARIFY_TS_CREDENTIALS"])
        doc = orjson.loads(path.read_bytes())
        # the SDKs' credentials file, pointing at this emulator's v1 API
        assert set(doc) == {"credentials", "apiUrl", "integration"}
        assert set(doc["credentials"]) == {"type", "clientId", "clientSecret"}
        assert doc["credentials"]["type"] == "client-credentials"
        assert doc["apiUrl"] == settings["CLARIFY_BASE_URL"] + "/"
        assert path.stat().st_mode & 0o077 == 0  # a secret: readable by its owner only

        monkeypatch.setenv("CLARIFY_TS_CREDENTIALS", str(path))
        monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
        # the emulator's demo data follows its own clock (the wall clock here): only the outcome is asserted
        since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        warehouse = str(tmp_path / "two.duckdb")
        result = CliRunner().invoke(timeseries_app, ["sync", "--duckdb-path", warehouse, "--since", since])
        assert result.exit_code == 0, result.output
        with duckdb.connect(warehouse, read_only=True) as db:
            assert db.sql("select count(*) from clarify.items").fetchall() == [(300,)]
            assert db.sql("select count(distinct item_id) > 0 from clarify.data_points").fetchall() == [(True,)]
    assert not path.exists()  # gone with the emulator, like the credentials in it
