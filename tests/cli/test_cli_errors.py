"""The CLI turns bad input into one line on stderr, a non-zero exit and an untouched warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipelines.cli.app import app


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    for name in ("CLARIFY_API_KEY", "CLARIFY_ACCESS_TOKEN", "CLARIFY_WORKSPACE", "CLARIFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("CLARIFY_API_KEY", "wrong-key", "API key refused: check CLARIFY_API_KEY; keys use the `api-key` scheme"),
        ("CLARIFY_WORKSPACE", "nope", "workspace 'nope' not found: check CLARIFY_WORKSPACE"),
    ],
)
def test_sync_with_bad_settings_prints_one_line_and_writes_nothing(
    cli_env: Path, emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, setting: str, value: str, message: str
) -> None:
    emu = emulator_factory(records=50)
    monkeypatch.setenv("CLARIFY_BASE_URL", emu.base_url)
    monkeypatch.setenv("CLARIFY_WORKSPACE", emu.workspace)
    monkeypatch.setenv("CLARIFY_API_KEY", emu.api_key)
    monkeypatch.setenv(setting, value)

    result = CliRunner().invoke(app, ["sync"])

    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not (cli_env / "clarify_sync.duckdb").exists()


def test_sync_without_credentials_names_the_variable(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["sync", "--workspace", "acme"])

    assert result.exit_code == 2
    assert "set CLARIFY_API_KEY" in result.stderr
    assert not (cli_env / "clarify_sync.duckdb").exists()


def test_push_needs_exactly_one_row_source(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["push", "--object", "person"])

    assert result.exit_code == 2
    assert "give exactly one of --from-table or --sql" in result.stderr
