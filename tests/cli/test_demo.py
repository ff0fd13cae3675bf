"""`clarify-sync demo` end to end: emulator, CRM and time-series sync into DuckDB, the example answers."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli.app import app


def test_demo_syncs_both_apis_and_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    for name in ("CLARIFY_API_KEY", "CLARIFY_WORKSPACE", "CLARIFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)

    result = CliRunner().invoke(app, ["demo", "--records", "400"])

    assert result.exit_code == 0, result.output
    assert "clarify-sync summary" in result.output
    assert "open pipeline by owner" in result.output
    assert "hourly average per item" in result.output
    with duckdb.connect(str(tmp_path / "clarify_sync.duckdb"), read_only=True) as connection:
        crm_rows = connection.execute("select count(*) from clarify.person").fetchone()
        points = connection.execute("select count(*) from clarify.data_points").fetchone()
    assert crm_rows is not None and crm_rows[0] > 0
    assert points is not None and points[0] > 0


def test_demo_in_a_second_folder_does_not_reuse_the_first_warehouse_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Local pipeline state belongs to one warehouse: a new DuckDB file must get every table again."""
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))  # shared by both runs, like ~/.dlt
    for name in ("CLARIFY_API_KEY", "CLARIFY_WORKSPACE", "CLARIFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        result = CliRunner().invoke(app, ["demo", "--records", "300"])
        assert result.exit_code == 0, result.output

    # The same folder with its DuckDB file deleted: the local state must not outlive the file it described.
    (tmp_path / "second" / "clarify_sync.duckdb").unlink()
    result = CliRunner().invoke(app, ["demo", "--records", "300"])
    assert result.exit_code == 0, result.output

    with duckdb.connect(str(tmp_path / "second" / "clarify_sync.duckdb"), read_only=True) as connection:
        counts = {
            table: connection.execute(f"select count(*) from clarify.{table}").fetchone()
            for table in ("person", "items", "signals", "data_points")
        }
    assert all(row is not None and row[0] > 0 for row in counts.values()), counts
