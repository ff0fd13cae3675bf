"""`clarify-sync sync --history deal --soft-delete person` switches both on from the command line; an object
name that does not exist is a settings error (exit 2, one line) before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.errors import ExitCode
from pipelines.cli.app import app
from tests.sync.conftest import query


@pytest.fixture
def emu(make_emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLARIFY_SYNC_LOG_DIR", str(tmp_path / "logs"))
    running = make_emu(records=100)
    monkeypatch.setenv("CLARIFY_BASE_URL", running.base_url)
    monkeypatch.setenv("CLARIFY_WORKSPACE", running.workspace)
    monkeypatch.setenv("CLARIFY_API_KEY", running.api_key)
    return running


def test_flags_switch_history_and_soft_deletes_on(emu: Any, make_warehouse: Any) -> None:
    wh = make_warehouse("duckdb")
    args = ["sync", "--duckdb-path", wh.duckdb_path, "--objects", "deal,person", "--history", "deal"]
    result = CliRunner().invoke(app, [*args, "--soft-delete", "person"])
    assert result.exit_code == 0, result.output
    assert len(query(wh, "SELECT * FROM {ds}.deal_history")) == len(emu.store.records("deal"))
    gone = emu.store.records("person")[0]["id"]
    emu.store.delete("person", gone)
    result = CliRunner().invoke(app, [*args, "--soft-delete", "person", "--reconcile"])
    assert result.exit_code == 0, result.output
    marked = query(wh, "SELECT id FROM {ds}.person WHERE _deleted_at IS NOT NULL")
    assert [r["id"] for r in marked] == [gone]


def test_an_unknown_object_is_a_settings_error(emu: Any, make_warehouse: Any) -> None:
    wh = make_warehouse("duckdb")
    result = CliRunner().invoke(app, ["sync", "--duckdb-path", wh.duckdb_path, "--history", "dael"])
    assert result.exit_code == ExitCode.SETTINGS
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "history names unknown object(s) ['dael']" in lines[0]
    assert not Path(wh.duckdb_path).exists()
